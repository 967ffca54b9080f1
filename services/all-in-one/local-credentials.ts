import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiKey } from '../../shared/config/index.js';
import { DEMO_PACKAGE, DEMO_USER, signDemoToken as signToken } from '../subscription-api/demo-session.js';

export interface LocalCredentials {
  jwtSecret: string;
  apiKey: ApiKey;
}

export { DEMO_PACKAGE, DEMO_USER };

/**
 * The embedded default needs a JWT secret and a service key without any configuration. They
 * are generated once and kept in `<dataDir>/local-credentials.json` (mode 0600), so tokens
 * printed by one start keep working after the next.
 */
export function loadLocalCredentials(dataDir: string): LocalCredentials {
  const file = join(dataDir, 'local-credentials.json');
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { jwtSecret: string; apiKey: string };
    return { jwtSecret: stored.jwtSecret, apiKey: localKey(stored.apiKey) };
  }
  mkdirSync(dataDir, { recursive: true });
  const created = {
    jwtSecret: randomBytes(48).toString('base64url'),
    apiKey: randomBytes(24).toString('base64url'),
  };
  writeFileSync(file, JSON.stringify(created, null, 2), { mode: 0o600 });
  return { jwtSecret: created.jwtSecret, apiKey: localKey(created.apiKey) };
}

function localKey(key: string): ApiKey {
  return { name: 'local-admin', key, packages: '*', admin: true, router: false };
}

/** A user token for the demo user, valid for 30 days. */
export function signDemoToken(jwtSecret: string): Promise<string> {
  return signToken(jwtSecret, DEMO_USER, '30d');
}

/** A key for the notify-router's broker login inside one all-in-one process; never stored or shown. */
export function routerKey(): ApiKey {
  return { name: 'notify-router', key: randomBytes(24).toString('base64url'), packages: '*', admin: false, router: true };
}
