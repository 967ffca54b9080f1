import { expect } from 'chai';
import {
  encryptContent,
  encryptPayload,
  MAX_PUSH_PLAINTEXT_BYTES,
} from '../../services/push-worker/encrypt-payload.js';
import { createBrowserKeys, decryptPayload } from '../support/web-push-receiver.js';

const b64 = (value: string): Buffer => Buffer.from(value, 'base64url');

// RFC 8188 §3.1 "Encryption of a Response".
const RFC8188 = {
  ikm: 'yqdlZ-tYemfogSmv7Ws5PQ',
  salt: 'I1BsxtFttlv3u_Oo94xnmw',
  plaintext: 'I am the walrus',
  body: 'I1BsxtFttlv3u_Oo94xnmwAAEAAA-NAVub2qFgBEuQKRapoZu-IxkIva3MEB1PD-ly8Thjg',
};

// RFC 8291 §5 "Push Message Encryption Example" (and Appendix A).
const RFC8291 = {
  plaintext: 'When I grow up, I want to be a watermelon',
  asPrivate: 'yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw',
  asPublic:
    'BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8',
  uaPrivate: 'q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94',
  uaPublic:
    'BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4',
  auth: 'BTBZMqHH6r4Tts7J_aSIgg',
  salt: 'DGv6ra1nlYgDCS1FRnbzlw',
  // Laid out in 64-character lines as in the RFC.
  body:
    'DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml' +
    'mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT' +
    'pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN',
};

function encryptForRandomBrowser(plaintext: Buffer) {
  const browser = createBrowserKeys();
  const body = encryptPayload({ plaintext, p256dh: b64(browser.p256dh), auth: b64(browser.auth) });
  return { browser, body };
}

describe('encryptContent', () => {
  it('reproduces the RFC 8188 §3.1 example byte for byte', () => {
    const body = encryptContent({
      ikm: b64(RFC8188.ikm),
      plaintext: Buffer.from(RFC8188.plaintext),
      salt: b64(RFC8188.salt),
      keyId: Buffer.alloc(0),
      recordSize: 4096,
    });

    expect(body.toString('base64url')).to.equal(RFC8188.body);
  });

  it('refuses a plaintext that does not fit one record of the given size', () => {
    const encrypt = (length: number) =>
      encryptContent({
        ikm: b64(RFC8188.ikm),
        plaintext: Buffer.alloc(length),
        salt: b64(RFC8188.salt),
        keyId: Buffer.alloc(0),
        recordSize: 100,
      });

    expect(encrypt(83)).to.have.length(21 + 100);
    expect(() => encrypt(84)).to.throw(RangeError);
  });

  it('refuses a salt that is not 16 bytes', () => {
    const encrypt = () =>
      encryptContent({
        ikm: b64(RFC8188.ikm),
        plaintext: Buffer.from('x'),
        salt: Buffer.alloc(15),
        keyId: Buffer.alloc(0),
        recordSize: 4096,
      });

    expect(encrypt).to.throw(RangeError, /salt/);
  });
});

describe('encryptPayload', () => {
  it('reproduces the RFC 8291 §5 example byte for byte', () => {
    const body = encryptPayload({
      plaintext: Buffer.from(RFC8291.plaintext),
      p256dh: b64(RFC8291.uaPublic),
      auth: b64(RFC8291.auth),
      ephemeralPrivateKey: b64(RFC8291.asPrivate),
      salt: b64(RFC8291.salt),
    });

    expect(body.toString('base64url')).to.equal(RFC8291.body);
  });

  it('writes the sender public key as keyid and 4096 as rs (RFC 8291 §4)', () => {
    const { body } = encryptForRandomBrowser(Buffer.from('hello'));

    expect(body.readUInt32BE(16)).to.equal(4096);
    expect(body.readUInt8(20)).to.equal(65);
    expect(body[21]).to.equal(0x04);
  });

  it('uses a fresh salt and sender key for every message', () => {
    const browser = createBrowserKeys();
    const send = () =>
      encryptPayload({
        plaintext: Buffer.from('same'),
        p256dh: b64(browser.p256dh),
        auth: b64(browser.auth),
      });

    const [first, second] = [send(), send()];

    expect(first.subarray(0, 16).equals(second.subarray(0, 16))).to.equal(false);
    expect(first.subarray(21, 86).equals(second.subarray(21, 86))).to.equal(false);
  });

  it('never repeats a salt or sender key over more messages than one block of salts', () => {
    const browser = createBrowserKeys();
    const bodies = Array.from({ length: 600 }, () =>
      encryptPayload({ plaintext: Buffer.from('same'), p256dh: b64(browser.p256dh), auth: b64(browser.auth) }),
    );

    expect(new Set(bodies.map((b) => b.subarray(0, 16).toString('hex'))).size).to.equal(600);
    expect(new Set(bodies.map((b) => b.subarray(21, 86).toString('hex'))).size).to.equal(600);
    for (const body of [bodies[0]!, bodies[599]!]) {
      expect(decryptPayload({ body, privateKey: browser.privateKey, auth: browser.auth }).toString()).to.equal('same');
    }
  });

  it('makes a fresh sender key after a message with a fixed key or a refused p256dh', () => {
    const fixed = () =>
      encryptPayload({
        plaintext: Buffer.from(RFC8291.plaintext),
        p256dh: b64(RFC8291.uaPublic),
        auth: b64(RFC8291.auth),
        ephemeralPrivateKey: b64(RFC8291.asPrivate),
        salt: b64(RFC8291.salt),
      });
    const bad = b64(RFC8291.uaPublic);
    bad[64] = bad[64]! ^ 1;

    fixed();
    const { browser, body } = encryptForRandomBrowser(Buffer.from('after the example'));
    expect(() => encryptPayload({ plaintext: Buffer.from('x'), p256dh: bad, auth: b64(RFC8291.auth) })).to.throw(TypeError);
    const next = encryptForRandomBrowser(Buffer.from('after a refusal'));

    expect(body.subarray(21, 86).toString('base64url')).not.to.equal(RFC8291.asPublic);
    expect(decryptPayload({ body, privateKey: browser.privateKey, auth: browser.auth }).toString()).to.equal('after the example');
    expect(decryptPayload({ body: next.body, privateKey: next.browser.privateKey, auth: next.browser.auth }).toString()).to.equal(
      'after a refusal',
    );
    expect(fixed().toString('base64url')).to.equal(RFC8291.body);
  });

  it('refuses an auth secret that is not 16 bytes', () => {
    const browser = createBrowserKeys();
    const encrypt = () =>
      encryptPayload({
        plaintext: Buffer.from('x'),
        p256dh: b64(browser.p256dh),
        auth: Buffer.alloc(8),
      });

    expect(encrypt).to.throw(TypeError, /auth/);
  });

  it('refuses a p256dh that is not on the curve', () => {
    const point = b64(RFC8291.uaPublic);
    point[64] = point[64]! ^ 1;
    const encrypt = () =>
      encryptPayload({ plaintext: Buffer.from('x'), p256dh: point, auth: b64(RFC8291.auth) });

    expect(encrypt).to.throw(TypeError, /p256dh/);
  });
});

describe('decryptPayload', () => {
  it('gives back the plaintext of the RFC 8291 §5 example', () => {
    const plaintext = decryptPayload({
      body: b64(RFC8291.body),
      privateKey: b64(RFC8291.uaPrivate),
      auth: RFC8291.auth,
    });

    expect(plaintext.toString()).to.equal(RFC8291.plaintext);
  });

  it('throws when the body was tampered with', () => {
    const body = b64(RFC8291.body);
    body[body.length - 20] = body[body.length - 20]! ^ 1;
    const decrypt = () =>
      decryptPayload({ body, privateKey: b64(RFC8291.uaPrivate), auth: RFC8291.auth });

    expect(decrypt).to.throw();
  });

  it('throws when the auth secret is wrong', () => {
    const decrypt = () =>
      decryptPayload({
        body: b64(RFC8291.body),
        privateKey: b64(RFC8291.uaPrivate),
        auth: Buffer.alloc(16),
      });

    expect(decrypt).to.throw();
  });
});

describe('a push message to a browser with random keys', () => {
  it('decrypts to the plaintext that was sent', () => {
    const plaintext = Buffer.from(JSON.stringify({ title: 'Hi', body: 'ünïcödé ✓' }));
    const { browser, body } = encryptForRandomBrowser(plaintext);

    const decrypted = decryptPayload({ body, privateKey: browser.privateKey, auth: browser.auth });

    expect(decrypted.equals(plaintext)).to.equal(true);
  });

  it('decrypts an empty plaintext', () => {
    const { browser, body } = encryptForRandomBrowser(Buffer.alloc(0));

    const decrypted = decryptPayload({ body, privateKey: browser.privateKey, auth: browser.auth });

    expect(decrypted).to.have.length(0);
  });

  it('allows 3993 bytes of plaintext, which makes a body of exactly 4096 bytes', () => {
    const plaintext = Buffer.alloc(MAX_PUSH_PLAINTEXT_BYTES, 0x61);
    const { browser, body } = encryptForRandomBrowser(plaintext);

    const decrypted = decryptPayload({ body, privateKey: browser.privateKey, auth: browser.auth });

    expect(MAX_PUSH_PLAINTEXT_BYTES).to.equal(3993);
    expect(body).to.have.length(4096);
    expect(decrypted.equals(plaintext)).to.equal(true);
  });

  it('refuses 3994 bytes of plaintext with a RangeError', () => {
    const send = () => encryptForRandomBrowser(Buffer.alloc(3994));

    expect(send).to.throw(RangeError, /3994/);
  });
});
