import { createECDH, createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { decodeBase64Url, encodeBase64Url, isP256PublicKey } from '../../shared/vapid/index.js';

/** A VAPID key pair as base64url: 65-byte uncompressed public point, 32-byte private scalar. */
export interface VapidKeyPair {
  publicKey: string;
  privateKey: string;
}

export interface VapidAuthorizerOptions {
  /** Contact for the push service operator: `mailto:` with an address, or an `https:` URL. */
  subject: string;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  /** How long a token is valid; RFC 8292 §2 allows at most 24 hours. */
  lifetimeSeconds?: number;
  /** A cached token is re-signed once it is this close to `exp`. */
  renewBeforeSeconds?: number;
}

export interface VapidAuthorizer {
  /** The `Authorization` header value for a push resource whose origin is `audience`. */
  authorization(audience: string, key: VapidKeyPair): string;
}

// RFC 8292 §2: exp must not be more than 24 hours after the request.
const MAX_LIFETIME_SECONDS = 24 * 3600;
// Bounds the caches: audiences come from subscription endpoints, which clients choose.
const MAX_CACHE_ENTRIES = 1000;
const LOCALHOST_NAMES = /^(localhost|.*\.localhost|127(\.\d{1,3}){3}|\[::1\]|::1)$/i;
// RFC 8292 §3.1: the JWT is signed with ES256 (RFC 7518 §3.4).
const JWT_HEADER = encodeBase64Url(Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'ES256' })));

interface CachedHeader {
  value: string;
  renewAtSeconds: number;
}

/**
 * Creates an RFC 8292 (VAPID) authorizer. It keeps one private KeyObject per key and one signed
 * header per (audience, key), re-signing only when the header is within `renewBeforeSeconds` of
 * its expiry: parsing a key costs ~540µs, reusing it ~39µs.
 *
 * @throws TypeError when the subject is not a `mailto:` address or an `https:` URL, or names a
 * localhost host (Apple's push service rejects those), or when the lifetimes are out of range.
 */
export function createVapidAuthorizer(options: VapidAuthorizerOptions): VapidAuthorizer {
  const { subject, now = () => Date.now() } = options;
  const { lifetimeSeconds = 12 * 3600, renewBeforeSeconds = 3600 } = options;
  assertSubject(subject);
  assertLifetimes(lifetimeSeconds, renewBeforeSeconds);
  const privateKeys = new Map<string, KeyObject>();
  const headers = new Map<string, CachedHeader>();

  // The last header handed out: consecutive sends mostly share origin and key, and this
  // spares them building and hashing the cache key.
  let last: (CachedHeader & { audience: string; publicKey: string }) | undefined;

  return {
    authorization(audience, key) {
      const nowSeconds = Math.floor(now() / 1000);
      if (last && last.audience === audience && last.publicKey === key.publicKey && nowSeconds < last.renewAtSeconds) {
        return last.value;
      }
      const cacheKey = `${key.publicKey} ${audience}`;
      const cached = headers.get(cacheKey);
      if (cached && nowSeconds < cached.renewAtSeconds) {
        last = { ...cached, audience, publicKey: key.publicKey };
        return cached.value;
      }

      assertAudience(audience);
      const privateKey =
        privateKeys.get(key.publicKey) ??
        setBounded(privateKeys, key.publicKey, loadPrivateKey(key));
      const exp = nowSeconds + lifetimeSeconds;
      const jwt = signJwt({ aud: audience, exp, sub: subject }, privateKey);
      const value = `vapid t=${jwt}, k=${encodeBase64Url(decodePublicKey(key.publicKey))}`;
      const header = setBounded(headers, cacheKey, { value, renewAtSeconds: exp - renewBeforeSeconds });
      last = { ...header, audience, publicKey: key.publicKey };
      return value;
    },
  };
}

function signJwt(claims: { aud: string; exp: number; sub: string }, key: KeyObject): string {
  const signingInput = `${JWT_HEADER}.${encodeBase64Url(Buffer.from(JSON.stringify(claims)))}`;
  // JWS wants r || s (RFC 7518 §3.4), not the DER that sign() gives by default.
  const signature = sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${encodeBase64Url(signature)}`;
}

/** Sets a key in a bounded map, evicting the oldest entry once full. */
function setBounded<T>(map: Map<string, T>, key: string, value: T): T {
  map.delete(key);
  if (map.size >= MAX_CACHE_ENTRIES) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
  map.set(key, value);
  return value;
}

function loadPrivateKey(key: VapidKeyPair): KeyObject {
  const publicPoint = decodePublicKey(key.publicKey);
  const scalar = decodeBase64Url(key.privateKey);
  if (!scalar || scalar.length !== 32) {
    throw new TypeError('VAPID private key must be a base64url 32-byte P-256 scalar');
  }
  // A JWK import does not check that d matches x and y; a mismatch would sign tokens that
  // every push service rejects, so check once here.
  const derived = createECDH('prime256v1');
  derived.setPrivateKey(scalar);
  if (!derived.getPublicKey().equals(publicPoint)) {
    throw new TypeError('VAPID private key does not match its public key');
  }
  const jwk = {
    kty: 'EC',
    crv: 'P-256',
    x: encodeBase64Url(publicPoint.subarray(1, 33)),
    y: encodeBase64Url(publicPoint.subarray(33, 65)),
    d: encodeBase64Url(scalar),
  };
  return createPrivateKey({ key: jwk, format: 'jwk' });
}

function decodePublicKey(publicKey: string): Buffer {
  const point = decodeBase64Url(publicKey);
  if (!point || !isP256PublicKey(point)) {
    throw new TypeError('VAPID public key must be a base64url uncompressed P-256 point');
  }
  return point;
}

/** RFC 8292 §2: `aud` is the origin of the push resource, not its full URL. */
function assertAudience(audience: string): void {
  if (!URL.canParse(audience) || new URL(audience).origin !== audience) {
    throw new TypeError(`VAPID audience must be an origin (https://host), got ${audience}`);
  }
}

/** RFC 8292 §2.1: `sub` is a contact URI, `mailto:` or `https:`. */
function assertSubject(subject: string): void {
  const host = subjectHost(subject);
  if (host === null) {
    throw new TypeError(
      `VAPID subject must be a mailto: address or an https: URL, got ${JSON.stringify(subject)}`,
    );
  }
  if (LOCALHOST_NAMES.test(host)) {
    throw new TypeError(`VAPID subject must not name localhost (Apple rejects it): ${subject}`);
  }
}

function subjectHost(subject: string): string | null {
  const mailto = /^mailto:[^@\s/]+@([^@\s/?#]+)$/i.exec(subject);
  if (mailto) return mailto[1] ?? null;
  if (!/^https:\/\//i.test(subject) || !URL.canParse(subject)) return null;
  return new URL(subject).hostname || null;
}

function assertLifetimes(lifetimeSeconds: number, renewBeforeSeconds: number): void {
  if (!Number.isInteger(lifetimeSeconds) || lifetimeSeconds <= 0) {
    throw new TypeError('lifetimeSeconds must be a positive integer');
  }
  if (lifetimeSeconds > MAX_LIFETIME_SECONDS) {
    throw new TypeError(`lifetimeSeconds must be at most ${MAX_LIFETIME_SECONDS} (RFC 8292 §2)`);
  }
  if (!Number.isInteger(renewBeforeSeconds) || renewBeforeSeconds < 0) {
    throw new TypeError('renewBeforeSeconds must be a non-negative integer');
  }
  if (renewBeforeSeconds >= lifetimeSeconds) {
    throw new TypeError('renewBeforeSeconds must be shorter than lifetimeSeconds');
  }
}
