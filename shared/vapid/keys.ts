import { createECDH } from 'node:crypto';

const P256_CURVE = 'prime256v1';
const UNCOMPRESSED_POINT_BYTES = 65;
const UNCOMPRESSED_POINT_PREFIX = 0x04;
const PRIVATE_SCALAR_BYTES = 32;
/** P-256's field prime and curve constant b (SEC 2 §2.4.2; a = −3). */
const P256_P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const P256_B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
const BASE64URL_BODY = /^[A-Za-z0-9_-]*$/;

/**
 * Decodes unpadded or padded base64url (RFC 4648 §5), the encoding browsers use for
 * `PushSubscription` keys and RFC 8292 uses for VAPID keys.
 *
 * Strict on purpose: standard base64 (`+`, `/`), whitespace, wrong padding and non-canonical
 * trailing bits all give `null`, so a mangled key is refused here instead of silently decoding
 * to different bytes.
 *
 * @returns the decoded bytes, or `null` when `value` is not canonical base64url.
 */
export function decodeBase64Url(value: string): Buffer | null {
  const body = value.replace(/={1,2}$/, '');
  if (!BASE64URL_BODY.test(body)) return null;
  const padding = value.length - body.length;
  if (padding > 0 && padding !== (4 - (body.length % 4)) % 4) return null;
  const bytes = Buffer.from(body, 'base64url');
  // Re-encoding catches a dangling sixth character and non-zero trailing bits.
  return bytes.toString('base64url') === body ? bytes : null;
}

/** Encodes bytes as base64url without padding, as RFC 8292 §3.2 and the Push API expect. */
export function encodeBase64Url(bytes: Buffer | Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/**
 * Tells whether `bytes` is a P-256 public key in the uncompressed form (X9.62, 65 bytes,
 * `0x04 || x || y`) that RFC 8291 §3.1 and RFC 8292 §3.2 require, and whether the point lies
 * on the curve. A point off the curve would otherwise fail later, in the middle of a send.
 */
export function isP256PublicKey(bytes: Buffer): boolean {
  if (bytes.length !== UNCOMPRESSED_POINT_BYTES || bytes[0] !== UNCOMPRESSED_POINT_PREFIX) {
    return false;
  }
  // The curve equation y² = x³ − 3x + b (mod p), with both coordinates below p (SEC 1
  // §3.2.2.1; P-256's cofactor is 1, so a point on the curve is a valid key). In BigInt it
  // costs ~2 µs; OpenSSL's decoding (ECDH.convertKey) ~20 µs, and every subscribe checks two.
  const x = BigInt(`0x${bytes.toString('hex', 1, 33)}`);
  const y = BigInt(`0x${bytes.toString('hex', 33, 65)}`);
  if (x >= P256_P || y >= P256_P) return false;
  return (y * y - (x * x * x - 3n * x + P256_B)) % P256_P === 0n;
}

/**
 * Generates a VAPID key pair (RFC 8292 §3.2).
 *
 * @returns `publicKey`: base64url of the 65-byte uncompressed point (the `k` parameter and the
 * browser's `applicationServerKey`); `privateKey`: base64url of the 32-byte private scalar.
 */
export function generateVapidKeyPair(): { publicKey: string; privateKey: string } {
  // createECDH rather than KeyObject#export({ format: 'jwk' }), which was seen to hang here.
  const ecdh = createECDH(P256_CURVE);
  const publicKey = ecdh.generateKeys();
  return {
    publicKey: encodeBase64Url(publicKey),
    privateKey: encodeBase64Url(padScalar(ecdh.getPrivateKey())),
  };
}

/** Left-pads a scalar to 32 bytes: a JWK `d` must be exactly that long (RFC 7518 §6.2.2.1). */
function padScalar(scalar: Buffer): Buffer {
  if (scalar.length >= PRIVATE_SCALAR_BYTES) return scalar;
  return Buffer.concat([Buffer.alloc(PRIVATE_SCALAR_BYTES - scalar.length), scalar]);
}

/**
 * Why a configured VAPID pair cannot be used, or `null` when it can: both halves present,
 * base64url, a P-256 public point, and a private scalar that yields exactly that point.
 */
export function vapidPairProblem(publicKey: string | undefined, privateKey: string | undefined): string | null {
  if (!publicKey || !privateKey) return 'VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY must be set together';
  const pub = decodeBase64Url(publicKey);
  const priv = decodeBase64Url(privateKey);
  if (!pub || !isP256PublicKey(pub)) return 'VAPID_PUBLIC_KEY is not base64url of a P-256 public key';
  if (!priv || priv.length !== 32) return 'VAPID_PRIVATE_KEY is not base64url of 32 bytes';
  try {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(priv);
    if (!ecdh.getPublicKey().equals(pub)) return 'VAPID_PRIVATE_KEY does not belong to VAPID_PUBLIC_KEY';
  } catch {
    return 'VAPID_PRIVATE_KEY is not a valid P-256 private key';
  }
  return null;
}
