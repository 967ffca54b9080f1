import { timingSafeEqual, createHash } from 'node:crypto';
import type { ApiKey } from '../config/index.js';
import { UnauthenticatedError, UnavailableError } from '../errors/index.js';
import type { Logger } from '../logging/index.js';
import { accessTokenCookie, bearerToken, type UserCaller, type UserCredentials } from './credentials.js';
import { createJwtUsers, type JwtUserOptions } from './jwt-users.js';
import type { UserCheck } from './user-check.js';
import { createWebhookUsers, type WebhookUserOptions } from './webhook-users.js';

export interface ServiceCaller {
  kind: 'service';
  name: string;
  packages: readonly string[] | '*';
  admin: boolean;
  router: boolean;
}

export interface Authenticator {
  /**
   * Signs a user in: a JWT (the Bearer token, else the `access_token` cookie), then the auth
   * webhook, as configured. A bare string is taken as the Authorization header. Throws
   * UnauthenticatedError (401), or UnavailableError (503) when a JWKS or the webhook could
   * not tell and nothing else accepted the credentials.
   */
  user(credentials: UserCredentials | string | undefined): Promise<UserCaller>;
  /** Finds the API key a service presented. */
  service(authorization: string | undefined, apiKeyHeader: string | undefined): ServiceCaller;
  /** The service whose API key this is, if it is one: `service` without the throwing. */
  findService(presented: string): ServiceCaller | undefined;
}

export interface AuthenticatorOptions extends Omit<JwtUserOptions, 'secret'> {
  jwtSecret?: string | undefined;
  webhook?: WebhookUserOptions | undefined;
  apiKeys: readonly ApiKey[];
  log?: Logger | undefined;
}

/** Seconds a caller is told to wait when the JWKS or the webhook could not tell. */
const RETRY_AFTER_SECONDS = 5;

// Comparing digests keeps the comparison constant-time whatever the presented key's length.
const digest = (value: string) => createHash('sha256').update(value).digest();

/** Three base64url parts: the shape of a JWS compact serialization (RFC 7515 §7.1). */
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]*$/;

/**
 * Builds the API's and the broker's authentication from the settings: user JWTs (HS256 secret
 * and/or JWKS), the auth webhook, and service API keys. Opens nothing until first used.
 */
export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const { jwtSecret, webhook, apiKeys, log, ...jwtOptions } = options;
  const jwt = jwtSecret || jwtOptions.jwksUrl ? createJwtUsers({ ...jwtOptions, secret: jwtSecret }) : undefined;
  const hook = webhook ? createWebhookUsers(webhook, log?.child({ part: 'auth-webhook' })) : undefined;
  const keys = apiKeys.map((k) => ({ ...k, digest: digest(k.key) }));
  const findKey = (presented: string) => {
    const presentedDigest = digest(presented);
    return keys.find((k) => timingSafeEqual(k.digest, presentedDigest));
  };
  // A user's JWT in Authorization is looked for among the keys on every user request; when no
  // key has a JWT's shape, the shape alone says it is none (bench:api: the digest was ~15 µs).
  const jwtShapedKeys = keys.some((k) => JWT_SHAPE.test(k.key));
  const findService = (presented: string): ServiceCaller | undefined => {
    if (!jwtShapedKeys && JWT_SHAPE.test(presented)) return undefined;
    const key = findKey(presented);
    return key && { kind: 'service', name: key.name, packages: key.packages, admin: key.admin, router: key.router };
  };

  return {
    async user(given) {
      const credentials = typeof given === 'object' ? given : { authorization: given };
      const token = bearerToken(credentials.authorization) ?? accessTokenCookie(credentials.cookie);
      const checks: UserCheck[] = [];
      if (jwt && token) {
        const check = await jwt(token);
        if ('caller' in check) return check.caller;
        if ('refused' in check && check.final) throw new UnauthenticatedError(check.refused);
        checks.push(check);
      }
      if (hook && (credentials.authorization || credentials.cookie)) {
        // A service's API key in Authorization is ours, never the application's to see.
        if (token && findService(token)) throw new UnauthenticatedError('an API key is not a user token');
        const check = await hook(credentials);
        if ('caller' in check) return check.caller;
        checks.push(check);
      }
      const unavailable = checks.find((c) => 'unavailable' in c);
      if (unavailable) throw new UnavailableError(unavailable.unavailable, RETRY_AFTER_SECONDS);
      const refused = checks.find((c) => 'refused' in c);
      if (refused) throw new UnauthenticatedError(refused.refused);
      throw new UnauthenticatedError('a user token is required (Authorization: Bearer <JWT> or the access_token cookie)');
    },
    service(authorization, apiKeyHeader) {
      const presented = apiKeyHeader ?? bearerToken(authorization);
      if (!presented) throw new UnauthenticatedError('an API key is required (X-API-Key or Authorization: Bearer)');
      const caller = findService(presented);
      if (!caller) throw new UnauthenticatedError('unknown API key');
      return caller;
    },
    findService,
  };
}
