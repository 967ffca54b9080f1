import { timingSafeEqual, createHash } from 'node:crypto';
import { errors as joseErrors, jwtVerify } from 'jose';
import type { ApiKey } from '../config/index.js';
import { ForbiddenError, UnauthenticatedError } from '../errors/index.js';
import { isValidName } from '../topics/index.js';

export interface UserCaller {
  kind: 'user';
  user: string;
  packages: readonly string[];
}

export interface ServiceCaller {
  kind: 'service';
  name: string;
  packages: readonly string[] | '*';
  admin: boolean;
  router: boolean;
}

export interface Authenticator {
  /** Verifies a user's JWT (HS256); `sub` is the user, the `packages` claim their packages. */
  user(authorization: string | undefined): Promise<UserCaller>;
  /** Finds the API key a service presented. */
  service(authorization: string | undefined, apiKeyHeader: string | undefined): ServiceCaller;
}

function bearer(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  return match?.[1];
}

// Comparing digests keeps the comparison constant-time whatever the presented key's length.
const digest = (value: string) => createHash('sha256').update(value).digest();

export function createAuthenticator(options: {
  jwtSecret: string;
  apiKeys: readonly ApiKey[];
}): Authenticator {
  const secret = new TextEncoder().encode(options.jwtSecret);
  const keys = options.apiKeys.map((k) => ({ ...k, digest: digest(k.key) }));

  return {
    async user(authorization) {
      const token = bearer(authorization);
      if (!token) throw new UnauthenticatedError('a user token is required (Authorization: Bearer <JWT>)');
      let payload;
      try {
        // A token without exp would be valid forever: refuse it.
        ({ payload } = await jwtVerify(token, secret, { algorithms: ['HS256'], requiredClaims: ['exp'] }));
      } catch (err) {
        const expired = err instanceof joseErrors.JWTExpired;
        throw new UnauthenticatedError(expired ? 'the token has expired' : 'the token is not valid');
      }
      const { sub, packages } = payload as { sub?: unknown; packages?: unknown };
      if (!isValidName(sub)) throw new UnauthenticatedError('the token has no valid sub (user id)');
      if (!Array.isArray(packages) || !packages.every(isValidName)) {
        throw new UnauthenticatedError('the token has no valid packages claim');
      }
      return { kind: 'user', user: sub, packages };
    },
    service(authorization, apiKeyHeader) {
      const presented = apiKeyHeader ?? bearer(authorization);
      if (!presented) throw new UnauthenticatedError('an API key is required (X-API-Key or Authorization: Bearer)');
      const presentedDigest = digest(presented);
      const key = keys.find((k) => timingSafeEqual(k.digest, presentedDigest));
      if (!key) throw new UnauthenticatedError('unknown API key');
      return { kind: 'service', name: key.name, packages: key.packages, admin: key.admin, router: key.router };
    },
  };
}

/** Throws unless the caller may act for `pkg`. */
export function assertPackageAccess(caller: Pick<ServiceCaller, 'packages'>, pkg: string): void {
  const allowed = caller.packages === '*' || caller.packages.includes(pkg);
  if (!allowed) throw new ForbiddenError(`not allowed for package ${pkg}`);
}
