import {
  createDecipheriv,
  createECDH,
  createPublicKey,
  hkdfSync,
  randomBytes,
  verify,
} from 'node:crypto';

// What a browser and a push service do with what axion-push sends. Written apart from the
// production code (hkdfSync here, HMAC there) so that a test does not agree with itself.

const SALT_BYTES = 16;
const FIXED_HEADER_BYTES = 21;
const TAG_BYTES = 16;
const LAST_RECORD_DELIMITER = 0x02;

/** A subscription's keys as `PushSubscription.toJSON()` gives them, plus the browser's secret. */
export interface BrowserKeys {
  p256dh: string;
  auth: string;
  privateKey: Buffer;
}

/** Creates the key pair and auth secret a browser makes for a new push subscription. */
export function createBrowserKeys(): BrowserKeys {
  const ecdh = createECDH('prime256v1');
  const publicKey = ecdh.generateKeys();
  return {
    p256dh: publicKey.toString('base64url'),
    auth: randomBytes(16).toString('base64url'),
    privateKey: ecdh.getPrivateKey(),
  };
}

/**
 * Decrypts an RFC 8291 push message as the browser does: parse the RFC 8188 header, take the
 * sender's key from keyid, derive, decrypt and strip the padding. Throws on any mismatch.
 */
export function decryptPayload(input: {
  body: Buffer;
  privateKey: Buffer;
  auth: Buffer | string;
}): Buffer {
  const { body, privateKey } = input;
  const auth = typeof input.auth === 'string' ? Buffer.from(input.auth, 'base64url') : input.auth;
  const { salt, recordSize, keyId, record } = parseHeader(body);
  if (record.length > recordSize) throw new Error('record is longer than rs');
  if (record.length <= TAG_BYTES) throw new Error('record is shorter than a tag');

  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(privateKey);
  const ecdhSecret = ecdh.computeSecret(keyId);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), ecdh.getPublicKey(), keyId]);
  const ikm = hkdf(auth, ecdhSecret, keyInfo, 32);
  const cek = hkdf(salt, ikm, Buffer.from('Content-Encoding: aes128gcm\0'), 16);
  const nonce = hkdf(salt, ikm, Buffer.from('Content-Encoding: nonce\0'), 12);

  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - TAG_BYTES));
  const padded = Buffer.concat([
    decipher.update(record.subarray(0, record.length - TAG_BYTES)),
    decipher.final(),
  ]);
  return stripPadding(padded);
}

/**
 * Checks an RFC 8292 `Authorization: vapid t=..., k=...` header as a push service does: the
 * ES256 signature must verify against `k`. Throws when it does not.
 */
export function verifyVapidAuthorization(header: string): {
  claims: { aud: string; exp: number; sub: string };
  publicKey: string;
} {
  const match = /^vapid t=([\w-]+\.[\w-]+\.[\w-]+), k=([\w-]+)$/.exec(header);
  if (!match) throw new Error(`not a vapid authorization header: ${header}`);
  const [, jwt = '', publicKey = ''] = match;
  const [encodedHeader = '', encodedClaims = '', encodedSignature = ''] = jwt.split('.');

  const jwtHeader = JSON.parse(Buffer.from(encodedHeader, 'base64url').toString('utf8'));
  if (jwtHeader.alg !== 'ES256' || jwtHeader.typ !== 'JWT') {
    throw new Error(`unexpected JWT header ${JSON.stringify(jwtHeader)}`);
  }
  const point = Buffer.from(publicKey, 'base64url');
  if (point.length !== 65 || point[0] !== 0x04) throw new Error('k is not an uncompressed point');
  const key = createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: point.subarray(1, 33).toString('base64url'),
      y: point.subarray(33).toString('base64url'),
    },
    format: 'jwk',
  });
  const signature = Buffer.from(encodedSignature, 'base64url');
  const signed = Buffer.from(`${encodedHeader}.${encodedClaims}`);
  if (!verify('sha256', signed, { key, dsaEncoding: 'ieee-p1363' }, signature)) {
    throw new Error('VAPID signature does not verify against k');
  }
  const claims = JSON.parse(Buffer.from(encodedClaims, 'base64url').toString('utf8'));
  return { claims, publicKey };
}

function parseHeader(body: Buffer) {
  if (body.length < FIXED_HEADER_BYTES) throw new Error('body is shorter than the header');
  const idLength = body.readUInt8(SALT_BYTES + 4);
  const recordStart = FIXED_HEADER_BYTES + idLength;
  if (body.length < recordStart) throw new Error('body is shorter than its keyid');
  return {
    salt: body.subarray(0, SALT_BYTES),
    recordSize: body.readUInt32BE(SALT_BYTES),
    keyId: body.subarray(FIXED_HEADER_BYTES, recordStart),
    record: body.subarray(recordStart),
  };
}

/** RFC 8188 §2: zero padding after a delimiter, which must be 0x02 in the last record. */
function stripPadding(padded: Buffer): Buffer {
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end -= 1;
  if (end < 0 || padded[end] !== LAST_RECORD_DELIMITER) {
    throw new Error('last record does not end with the 0x02 delimiter');
  }
  return padded.subarray(0, end);
}

function hkdf(salt: Buffer, ikm: Buffer, info: Buffer, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}
