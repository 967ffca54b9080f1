import { z } from 'zod';
import { ConfigError } from '../errors/index.js';
import type { ApiKey } from './api-keys.js';

/** How users and services sign in (see the README's "Authentication" section). */
export interface AuthConfig {
  /** `AUTH_JWT_SECRET`: HS256 secret of user JWTs. */
  jwtSecret: string | undefined;
  /** `AUTH_JWKS_URL`: the issuer's RS256/ES256 keys, fetched and cached. */
  jwksUrl?: string | undefined;
  jwksTimeoutMs?: number | undefined;
  /** `AUTH_JWT_PACKAGES_CLAIM`: the claim listing the user's packages; unset: `packages`. */
  packagesClaim?: string | undefined;
  /** `AUTH_JWT_ISSUER` / `AUTH_JWT_AUDIENCE`: required `iss` / `aud` when set. */
  issuer?: string | undefined;
  audience?: string | undefined;
  /** `AUTH_WEBHOOK_URL`: the application's own check of its users' cookie or token. */
  webhook?: { url: string; timeoutMs: number; cacheMs: number } | undefined;
  apiKeys: ApiKey[];
}

const httpUrl = z.string().regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL');
const millis = (min: number, max: number, fallback: number) =>
  z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(min).max(max)).default(fallback);

/** The user-authentication variables beside `AUTH_JWT_SECRET` and `API_KEYS`. */
export const authSettings = {
  AUTH_JWKS_URL: httpUrl.optional(),
  AUTH_JWKS_TIMEOUT_MS: millis(100, 60_000, 5_000),
  AUTH_JWT_PACKAGES_CLAIM: z.string().regex(/^[A-Za-z0-9_:/.-]{1,100}$/, 'must be a claim name').default('packages'),
  AUTH_JWT_ISSUER: z.string().optional(),
  AUTH_JWT_AUDIENCE: z.string().optional(),
  AUTH_WEBHOOK_URL: httpUrl.optional(),
  AUTH_WEBHOOK_TIMEOUT_MS: millis(100, 60_000, 3_000),
  AUTH_WEBHOOK_CACHE_SECONDS: millis(0, 3_600, 30),
};

type AuthSettings = z.output<z.ZodObject<typeof authSettings>>;

export function toAuthConfig(e: AuthSettings & { AUTH_JWT_SECRET?: string | undefined; API_KEYS: ApiKey[] }): AuthConfig {
  return {
    jwtSecret: e.AUTH_JWT_SECRET,
    jwksUrl: e.AUTH_JWKS_URL,
    jwksTimeoutMs: e.AUTH_JWKS_TIMEOUT_MS,
    packagesClaim: e.AUTH_JWT_PACKAGES_CLAIM,
    issuer: e.AUTH_JWT_ISSUER,
    audience: e.AUTH_JWT_AUDIENCE,
    webhook: e.AUTH_WEBHOOK_URL
      ? { url: e.AUTH_WEBHOOK_URL, timeoutMs: e.AUTH_WEBHOOK_TIMEOUT_MS, cacheMs: e.AUTH_WEBHOOK_CACHE_SECONDS * 1000 }
      : undefined,
    apiKeys: e.API_KEYS,
  };
}

/** Fails, naming the variables, unless some way for users to sign in is configured. */
export function requireUserAuth(auth: AuthConfig, why: string): void {
  if (auth.jwtSecret || auth.jwksUrl || auth.webhook) return;
  throw new ConfigError(`AUTH_JWT_SECRET, AUTH_JWKS_URL or AUTH_WEBHOOK_URL is not set: ${why}`);
}
