import { ForbiddenError } from '../errors/index.js';
import { isValidName } from '../topics/index.js';

/** A signed-in user: `user` is the id, `packages` the packages they belong to. */
export interface UserCaller {
  kind: 'user';
  user: string;
  packages: readonly string[];
}

/**
 * What a user presents: the `Authorization` header and the `Cookie` header, as received. An
 * `IncomingHttpHeaders` fits as it is. Leave `cookie` out where a cookie must not count (a
 * cross-origin page: see the API's and the broker's origin rules).
 */
export interface UserCredentials {
  authorization?: string | undefined;
  cookie?: string | undefined;
}

/** The token of `Authorization: Bearer <token>`, if that is what the header holds. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  return match?.[1];
}

/** The `access_token` cookie of a `Cookie` header, if any. */
export function accessTokenCookie(header: string | undefined): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name !== 'access_token' || value.length === 0) continue;
    try {
      return decodeURIComponent(value.join('=')) || undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** A user id and packages as a token or the webhook gave them, or why they are not usable. */
export function toUserCaller(user: unknown, packages: unknown): UserCaller | string {
  if (!isValidName(user)) return 'no valid user id';
  if (!Array.isArray(packages) || !packages.every(isValidName)) return 'no valid packages list';
  return { kind: 'user', user, packages };
}

/** Throws unless the caller may act for `pkg`. */
export function assertPackageAccess(caller: { packages: readonly string[] | '*' }, pkg: string): void {
  const allowed = caller.packages === '*' || caller.packages.includes(pkg);
  if (!allowed) throw new ForbiddenError(`not allowed for package ${pkg}`);
}
