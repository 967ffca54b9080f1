import { createECDH, ECDH } from 'node:crypto';
import { expect } from 'chai';
import {
  decodeBase64Url,
  encodeBase64Url,
  generateVapidKeyPair,
  isP256PublicKey,
} from '../../shared/vapid/index.js';
import { createVapidAuthorizer } from '../../services/push-worker/vapid-jwt.js';
import { verifyVapidAuthorization } from '../support/web-push-receiver.js';

const AUDIENCE = 'https://fcm.googleapis.com';
const SUBJECT = 'mailto:ops@axion.example';
const START_MS = Date.UTC(2025, 0, 1);

function createClock(startMs: number) {
  let nowMs = startMs;
  return { now: () => nowMs, advanceSeconds: (seconds: number) => (nowMs += seconds * 1000) };
}

describe('decodeBase64Url', () => {
  it('decodes unpadded and padded base64url', () => {
    expect(decodeBase64Url('-_8')).to.deep.equal(Buffer.from([0xfb, 0xff]));
    expect(decodeBase64Url('-_8=')).to.deep.equal(Buffer.from([0xfb, 0xff]));
    expect(decodeBase64Url('')).to.deep.equal(Buffer.alloc(0));
  });

  it('rejects standard base64, whitespace, bad padding and impossible lengths', () => {
    const invalid = ['+/8', 'AB/=', 'AA AA', 'AA\n', 'A', 'AAAAA', 'AA=', 'AAA==', 'AA===', '='];
    for (const value of invalid) {
      expect(decodeBase64Url(value), JSON.stringify(value)).to.equal(null);
    }
  });

  it('rejects non-canonical trailing bits that would silently decode to other bytes', () => {
    expect(decodeBase64Url('AB')).to.equal(null);
    expect(decodeBase64Url('AA')).to.deep.equal(Buffer.from([0]));
  });
});

describe('encodeBase64Url', () => {
  it('encodes without padding and with the url-safe alphabet', () => {
    expect(encodeBase64Url(new Uint8Array([0xfb, 0xff]))).to.equal('-_8');
  });

  it('encodes only the viewed bytes of a Uint8Array that shares a larger buffer', () => {
    const view = new Uint8Array(Buffer.from([1, 2, 3, 4]).buffer, 1, 2);

    expect(decodeBase64Url(encodeBase64Url(view))).to.deep.equal(Buffer.from(view));
  });
});

describe('isP256PublicKey', () => {
  const realKey = createECDH('prime256v1').generateKeys();

  it('accepts a real uncompressed P-256 public key', () => {
    expect(isP256PublicKey(realKey)).to.equal(true);
  });

  it('rejects a key of the wrong length', () => {
    expect(isP256PublicKey(realKey.subarray(0, 64))).to.equal(false);
    expect(isP256PublicKey(Buffer.concat([realKey, Buffer.from([0])]))).to.equal(false);
  });

  it('rejects a compressed point', () => {
    const compressed = Buffer.from(realKey);
    compressed[0] = 0x02;

    expect(isP256PublicKey(compressed)).to.equal(false);
    expect(isP256PublicKey(realKey.subarray(0, 33))).to.equal(false);
  });

  it('agrees with OpenSSL on real keys and on points just off the curve', () => {
    for (let i = 0; i < 200; i++) {
      const key = createECDH('prime256v1').generateKeys();
      const off = Buffer.from(key);
      off[1 + (i % 64)] = off[1 + (i % 64)]! ^ (1 << (i % 8));
      for (const candidate of [key, off]) {
        let openssl = true;
        try {
          ECDH.convertKey(candidate, 'prime256v1');
        } catch {
          openssl = false;
        }
        expect(isP256PublicKey(candidate), candidate.toString('hex')).to.equal(openssl);
      }
    }
  });

  it('rejects coordinates that are not below the field prime', () => {
    const p = Buffer.from('ffffffff00000001000000000000000000000000ffffffffffffffffffffffff', 'hex');
    expect(isP256PublicKey(Buffer.concat([Buffer.from([4]), p, realKey.subarray(33)]))).to.equal(false);
    expect(isP256PublicKey(Buffer.concat([Buffer.from([4]), Buffer.alloc(32, 0xff), Buffer.alloc(32, 0xff)]))).to.equal(false);
  });

  it('rejects a 65-byte 0x04 point that is not on the curve', () => {
    const offCurve = Buffer.from(realKey);
    offCurve[64] = offCurve[64]! ^ 1;

    expect(isP256PublicKey(offCurve)).to.equal(false);
  });
});

describe('generateVapidKeyPair', () => {
  it('gives a 65-byte public point and the 32-byte scalar that derives it', () => {
    const pair = generateVapidKeyPair();
    const publicKey = decodeBase64Url(pair.publicKey);
    const privateKey = decodeBase64Url(pair.privateKey);
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(privateKey!);

    expect(isP256PublicKey(publicKey!)).to.equal(true);
    expect(privateKey).to.have.length(32);
    expect(ecdh.getPublicKey().equals(publicKey!)).to.equal(true);
  });
});

describe('createVapidAuthorizer', () => {
  const key = generateVapidKeyPair();

  it('gives a header whose ES256 signature verifies against k, with the right claims', () => {
    const clock = createClock(START_MS);
    const authorizer = createVapidAuthorizer({ subject: SUBJECT, now: clock.now });

    const header = authorizer.authorization(AUDIENCE, key);
    const { claims, publicKey } = verifyVapidAuthorization(header);

    expect(publicKey).to.equal(key.publicKey);
    expect(claims.aud).to.equal(AUDIENCE);
    expect(claims.sub).to.equal(SUBJECT);
    expect(claims.exp).to.equal(START_MS / 1000 + 12 * 3600);
    expect(claims.exp).to.be.at.most(START_MS / 1000 + 24 * 3600);
  });

  it('gives a header that no longer verifies once its claims are altered', () => {
    const authorizer = createVapidAuthorizer({ subject: SUBJECT, now: () => START_MS });
    const header = authorizer.authorization(AUDIENCE, key);
    const [jwtHeader, , signature] = header.slice('vapid t='.length).split(',')[0]!.split('.');
    const forgedClaims = encodeBase64Url(
      Buffer.from(JSON.stringify({ aud: AUDIENCE, exp: START_MS / 1000 + 86400, sub: SUBJECT })),
    );
    const forged = `vapid t=${jwtHeader}.${forgedClaims}.${signature}, k=${key.publicKey}`;

    expect(() => verifyVapidAuthorization(forged)).to.throw(/signature/);
  });

  it('returns the same header for repeated calls while it is fresh', () => {
    const clock = createClock(START_MS);
    const authorizer = createVapidAuthorizer({ subject: SUBJECT, now: clock.now });
    const first = authorizer.authorization(AUDIENCE, key);

    clock.advanceSeconds(11 * 3600 - 1);

    expect(authorizer.authorization(AUDIENCE, key)).to.equal(first);
  });

  it('signs a new header once time reaches exp minus renewBeforeSeconds', () => {
    const clock = createClock(START_MS);
    const authorizer = createVapidAuthorizer({ subject: SUBJECT, now: clock.now });
    const first = authorizer.authorization(AUDIENCE, key);

    clock.advanceSeconds(11 * 3600);
    const renewed = authorizer.authorization(AUDIENCE, key);

    expect(renewed).to.not.equal(first);
    expect(verifyVapidAuthorization(renewed).claims.exp).to.equal(START_MS / 1000 + 23 * 3600);
  });

  it('signs a separate header for each audience and each key', () => {
    const authorizer = createVapidAuthorizer({ subject: SUBJECT, now: () => START_MS });
    const otherKey = generateVapidKeyPair();

    const apple = authorizer.authorization('https://web.push.apple.com', key);
    const other = verifyVapidAuthorization(authorizer.authorization(AUDIENCE, otherKey));

    expect(verifyVapidAuthorization(apple).claims.aud).to.equal('https://web.push.apple.com');
    expect(other.publicKey).to.equal(otherKey.publicKey);
  });

  it('accepts an https: URL as subject', () => {
    const authorizer = createVapidAuthorizer({ subject: 'https://axion.example/contact' });

    const { claims } = verifyVapidAuthorization(authorizer.authorization(AUDIENCE, key));

    expect(claims.sub).to.equal('https://axion.example/contact');
  });

  it('rejects a localhost, non-https or non-URI subject with a TypeError', () => {
    const subjects = [
      'mailto:admin@localhost',
      'https://localhost',
      'https://127.0.0.1',
      'http://example.com',
      'example',
      'mailto:',
    ];
    for (const subject of subjects) {
      expect(() => createVapidAuthorizer({ subject }), subject).to.throw(TypeError, /subject/);
    }
  });

  it('rejects a lifetime longer than 24 hours (RFC 8292 §2)', () => {
    const create = () =>
      createVapidAuthorizer({ subject: SUBJECT, lifetimeSeconds: 24 * 3600 + 1 });

    expect(create).to.throw(TypeError, /lifetimeSeconds/);
  });

  it('rejects an audience that is a full endpoint URL rather than an origin', () => {
    const authorizer = createVapidAuthorizer({ subject: SUBJECT });

    const authorize = () => authorizer.authorization(`${AUDIENCE}/fcm/send/abc`, key);

    expect(authorize).to.throw(TypeError, /origin/);
  });

  it('rejects a private key that does not belong to the public key', () => {
    const authorizer = createVapidAuthorizer({ subject: SUBJECT });
    const mismatched = { publicKey: key.publicKey, privateKey: generateVapidKeyPair().privateKey };

    expect(() => authorizer.authorization(AUDIENCE, mismatched)).to.throw(TypeError, /match/);
  });
});
