import { isValidName } from '../topics/index.js';

/** A service or admin credential from `API_KEYS`. */
export interface ApiKey {
  name: string;
  key: string;
  /** Packages this key may act for; `'*'` for all. */
  packages: readonly string[] | '*';
  admin: boolean;
  /** The notify-router's identity: the only one that may publish to users' push topics. */
  router: boolean;
}

const MIN_KEY_LENGTH = 16;

/**
 * Parses `API_KEYS`: comma-separated `name:key:packages[:admin|router]`, where packages is `*` or
 * names joined by `+` (a character no package name can hold). Returns an error message on
 * failure rather than throwing, so the loader can name the variable.
 */
export function parseApiKeys(value: string): ApiKey[] | string {
  const keys: ApiKey[] = [];
  for (const [index, entry] of value.split(',').map((e) => e.trim()).entries()) {
    if (entry === '') continue;
    const [name, key, scope, role, ...rest] = entry.split(':');
    const at = `entry ${index + 1}`;
    if (rest.length > 0 || !name || !key || !scope) {
      return `${at} must be name:key:packages[:admin|router]`;
    }
    if (!isValidName(name)) return `${at} has an invalid name`;
    if (key.length < MIN_KEY_LENGTH) return `${at}: key must be at least ${MIN_KEY_LENGTH} characters`;
    if (role !== undefined && role !== 'admin' && role !== 'router') {
      return `${at}: the fourth field can only be "admin" or "router"`;
    }
    const packages = scope === '*' ? '*' : scope.split('+');
    if (packages !== '*' && !packages.every(isValidName)) {
      return `${at} lists an invalid package name`;
    }
    if (keys.some((k) => k.key === key)) return `${at} repeats a key`;
    keys.push({ name, key, packages, admin: role === 'admin', router: role === 'router' });
  }
  return keys;
}

/** Renders keys back into the `API_KEYS` format (for generated demo settings). */
export function formatApiKeys(keys: readonly ApiKey[]): string {
  return keys
    .map((k) => {
      const scope = k.packages === '*' ? '*' : k.packages.join('+');
      const role = k.admin ? ['admin'] : k.router ? ['router'] : [];
      return [k.name, k.key, scope, ...role].join(':');
    })
    .join(',');
}
