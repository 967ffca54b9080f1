import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
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
 * Verifies user JWTs with an HS256 secret, a JWKS, or both (the token's `alg` picks which).
 * `alg: none` never verifies: jose's jwtVerify refuses unsecured tokens whatever the list.
 */
export function createJwtUsers(options: JwtUserOptions): (token: string) => Promise<UserCheck> {
  const secret = options.secret ? new TextEncoder().encode(options.secret) : undefined;
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

  return async (token) => {
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
      return classify(err);
    }
    const caller = toUserCaller(payload.sub, payload[packagesClaim]);
    if (typeof caller === 'string') return { refused: `the token has ${caller} (sub, ${packagesClaim})`, final: true };
    return { caller };
  };
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
