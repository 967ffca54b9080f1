import { webcrypto } from 'node:crypto';
import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { createAnswerCache } from '../answer-cache/index.js';
import { toUserCaller } from './credentials.js';
import type { UserCheck } from './user-check.js';

export interface JwtUserOptions {
  /** HS256 secret. */
  secret?: string | undefined;
  /** JWKS of the issuer's RS256/ES256 keys. */
  jwksUrl?: string | undefined;
  /** Deadline of one JWKS fetch. */
  jwksTimeoutMs?: number | undefined;
  /** Shortest time between two JWKS fetches for unknown `kid`s (jose's cooldown). */
  jwksCooldownMs?: number | undefined;
  /** Claim that lists the user's packages. */
  packagesClaim?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
}

const ASYMMETRIC = ['RS256', 'ES256'];

/**
 * How long a verified token is taken as verified without checking its signature again: a
 * dashboard or browser sends the same token with every request, and jose's verification
 * costs ~100 µs of CPU (bench:api). Never past the token's own `exp`.
 */
const VERIFIED_FOR_MS = 5 * 60_000;

/**
 * Verifies user JWTs with an HS256 secret, a JWKS, or both (the token's `alg` picks which).
 * `alg: none` never verifies: jose's jwtVerify refuses unsecured tokens whatever the list.
 */
export function createJwtUsers(options: JwtUserOptions): (token: string) => Promise<UserCheck> {
  // Imported once: jose imports raw secret bytes again on every verification (~80 µs of CPU
  // each, measured here beside a verification with a key imported once, ~60 µs).
  const secret = options.secret
    ? webcrypto.subtle.importKey('raw', new TextEncoder().encode(options.secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])
    : undefined;
  // Keys are fetched on first use, cached, and fetched again when a token names an unknown kid.
  const jwks = options.jwksUrl
    ? createRemoteJWKSet(new URL(options.jwksUrl), {
        timeoutDuration: options.jwksTimeoutMs ?? 5_000,
        cooldownDuration: options.jwksCooldownMs ?? 30_000,
      })
    : undefined;
  const algorithms = [...(secret ? ['HS256'] : []), ...(jwks ? ASYMMETRIC : [])];
  const packagesClaim = options.packagesClaim ?? 'packages';
  const key: JWTVerifyGetKey = async (header, token) => {
    if (header.alg === 'HS256' && secret) return secret;
    if (jwks) return jwks(header, token);
    throw new errors.JOSEAlgNotAllowed('no key for this alg');
  };

  // Only acceptances are kept (a refusal has TTL 0), so garbage tokens cannot fill it.
  const verified = createAnswerCache<UserCheck>({ maxEntries: 10_000 });
  return (token) => verified.get(token, async () => {
    const { check, expiresAt } = await verify(token);
    return { value: check, ttlMs: Math.min(expiresAt - Date.now(), VERIFIED_FOR_MS) };
  });

  async function verify(token: string): Promise<{ check: UserCheck; expiresAt: number }> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms,
        // A token without exp would be valid forever: refuse it.
        requiredClaims: ['exp'],
        issuer: options.issuer,
        audience: options.audience,
      }));
    } catch (err) {
      return { check: classify(err), expiresAt: 0 };
    }
    const caller = toUserCaller(payload.sub, payload[packagesClaim]);
    if (typeof caller === 'string') {
      return { check: { refused: `the token has ${caller} (sub, ${packagesClaim})`, final: true }, expiresAt: 0 };
    }
    // requiredClaims made sure exp is there.
    return { check: { caller }, expiresAt: Number(payload.exp) * 1000 };
  }
}

function classify(err: unknown): UserCheck {
  // Claims are checked after the signature: the token is ours, so nothing else may accept it.
  if (err instanceof errors.JWTExpired) return { refused: 'the token has expired', final: true };
  if (err instanceof errors.JWTClaimValidationFailed) {
    return { refused: `the token's ${err.claim} claim is not valid`, final: true };
  }
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) {
    return { unavailable: 'the JWKS did not answer in time or answered something unusable' };
  }
  if (err instanceof errors.JOSEError) return { refused: 'the token is not valid' };
  // fetch failures of the JWKS (connection refused, DNS) are plain errors.
  return { unavailable: 'the JWKS could not be fetched' };
}
