import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

/** A user JWT as an application would issue it. */
export function userToken(
  user: string,
  packages: string[],
  options: { secret?: string; expiresIn?: string | number } = {},
): Promise<string> {
  return new SignJWT({ packages })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '10m')
    .sign(new TextEncoder().encode(options.secret ?? TEST_JWT_SECRET));
}

/** A key pair that signs user JWTs the way an identity provider does, and its public JWK. */
export interface SigningKey {
  alg: 'ES256' | 'RS256';
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function createSigningKey(alg: SigningKey['alg'], kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicJwk };
}

export interface TokenClaims {
  sub?: string;
  packages?: unknown;
  /** Absolute times in seconds; `exp` defaults to ten minutes from now. */
  exp?: number;
  nbf?: number;
  [claim: string]: unknown;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A user JWT signed with `key` (an ES256/RS256 signing key, or an HS256 secret). */
export function signToken(key: SigningKey | string, claims: TokenClaims): Promise<string> {
  const header = typeof key === 'string' ? { alg: 'HS256' } : { alg: key.alg, kid: key.kid };
  const secret = typeof key === 'string' ? new TextEncoder().encode(key) : key.privateKey;
  return new SignJWT({ exp: nowSeconds() + 600, ...claims })
    .setProtectedHeader(header)
    .setIssuedAt()
    .sign(secret);
}

/** An unsigned token (`alg: none`) carrying valid-looking claims. */
export function unsignedToken(claims: TokenClaims): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ exp: nowSeconds() + 600, ...claims })}.`;
}

/** What a token may get wrong that must get it refused everywhere. */
export const REFUSAL_RULES = ['alg none', 'a wrong signature', 'a past exp', 'a future nbf'] as const;
export type RefusalRule = (typeof REFUSAL_RULES)[number];

/**
 * The token that each refusal rule is about, for `user` in `packages`, made with `key`: none,
 * signed by another key, expired a minute ago, not valid for another hour.
 */
export async function refusedTokens(
  key: SigningKey | string,
  other: SigningKey | string,
  user: string,
  packages: string[],
): Promise<Record<RefusalRule, string>> {
  const claims = { sub: user, packages };
  return {
    'alg none': unsignedToken(claims),
    'a wrong signature': await signToken(other, claims),
    'a past exp': await signToken(key, { ...claims, exp: nowSeconds() - 60 }),
    'a future nbf': await signToken(key, { ...claims, nbf: nowSeconds() + 3_600 }),
  };
}
