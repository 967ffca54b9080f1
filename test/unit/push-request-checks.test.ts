import { generateKeyPairSync, sign } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { expect } from 'chai';
import { encryptPayload } from '../../services/push-worker/encrypt-payload.js';
import { checkPushRequest, type RegisteredBrowser } from '../support/push-request-checks.js';
import { createBrowserKeys } from '../support/web-push-receiver.js';

// The local push service's checks must be able to fail, or "every request passed" proves nothing.

const ORIGIN = 'http://127.0.0.1:4000';
const NOW = 1_750_000_000_000;
const NOW_S = NOW / 1000;

function vapidKey() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const k = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  return { privateKey, k: k.toString('base64url') };
}

const signer = vapidKey();

/** An RFC 8292 header signed here, so that any claim can be made wrong. */
function authorization(claims: Record<string, unknown>, key = signer): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${part({ typ: 'JWT', alg: 'ES256' })}.${part(claims)}`;
  const signature = sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `vapid t=${input}.${signature.toString('base64url')}, k=${key.k}`;
}

const browserKeys = createBrowserKeys();
const browser: RegisteredBrowser = { keys: browserKeys, applicationServerKey: signer.k };
const plaintext = Buffer.from('{"id":"evt-1","title":"Invoice paid"}');
const goodClaims = { aud: ORIGIN, exp: NOW_S + 12 * 3600, sub: 'mailto:ops@example.com' };

function request(overrides: { headers?: IncomingHttpHeaders; body?: Buffer; method?: string } = {}) {
  const body =
    overrides.body ??
    encryptPayload({
      plaintext,
      p256dh: Buffer.from(browserKeys.p256dh, 'base64url'),
      auth: Buffer.from(browserKeys.auth, 'base64url'),
    });
  const headers: IncomingHttpHeaders = {
    'content-encoding': 'aes128gcm',
    ttl: '60',
    urgency: 'normal',
    authorization: authorization(goodClaims),
    ...overrides.headers,
  };
  return { method: overrides.method ?? 'POST', headers, body };
}

const check = (req: ReturnType<typeof request>, registered: RegisteredBrowser | null = browser) =>
  checkPushRequest(req, { origin: ORIGIN, arrivedAt: NOW, browser: registered ?? undefined });

describe('the local push service checks', function () {
  it('accepts a well-formed push and decrypts it to what was sent', function () {
    const findings = check(request({ headers: { topic: 'invoice-42' } }));

    expect(findings.problems).to.deep.equal([]);
    expect(findings.plaintext?.equals(plaintext)).to.equal(true);
    expect(findings.vapid?.claims).to.deep.equal(goodClaims);
  });

  const faults: [string, ReturnType<typeof request>, RegExp][] = [
    ['a GET', request({ method: 'GET' }), /not POST/],
    ['a missing TTL', request({ headers: { ttl: undefined } }), /TTL/],
    ['a TTL that is not delta-seconds', request({ headers: { ttl: '1.5' } }), /TTL/],
    ['an unknown Urgency', request({ headers: { urgency: 'urgent' } }), /Urgency/],
    ['a 33-character Topic', request({ headers: { topic: 'a'.repeat(33) } }), /Topic/],
    ['a Topic outside base64url', request({ headers: { topic: 'invoice 42' } }), /Topic/],
    ['a body over 4096 bytes', request({ body: Buffer.alloc(4097) }), /exceeds 4096/],
    ['another content coding', request({ headers: { 'content-encoding': 'aesgcm' } }), /content-encoding/],
    ['a body that does not decrypt', request({ body: Buffer.alloc(200, 1) }), /does not decrypt/],
    ['no Authorization', request({ headers: { authorization: undefined } }), /no Authorization/],
    ['a JWT signed by another key than k', request({ headers: { authorization: authorization(goodClaims).replace(/k=.*$/, `k=${vapidKey().k}`) } }), /does not verify/],
    ['a key other than the one the browser subscribed with', request({ headers: { authorization: authorization(goodClaims, vapidKey()) } }), /subscribed with/],
    ['aud of another origin', request({ headers: { authorization: authorization({ ...goodClaims, aud: 'http://127.0.0.1:4001' }) } }), /aud/],
    ['exp more than 24 h ahead', request({ headers: { authorization: authorization({ ...goodClaims, exp: NOW_S + 24 * 3600 + 60 }) } }), /24 h/],
    ['exp in the past', request({ headers: { authorization: authorization({ ...goodClaims, exp: NOW_S - 1 }) } }), /has passed/],
    ['no sub', request({ headers: { authorization: authorization({ aud: ORIGIN, exp: goodClaims.exp }) } }), /sub/],
    ['a localhost sub', request({ headers: { authorization: authorization({ ...goodClaims, sub: 'mailto:me@localhost' }) } }), /sub/],
  ];
  for (const [what, req, problem] of faults) {
    it(`refuses ${what}`, function () {
      expect(check(req).problems.join('; ')).to.match(problem);
    });
  }

  it('refuses a push for a path whose browser it does not know, since it cannot decrypt it', function () {
    expect(check(request(), null).problems.join('; ')).to.match(/no browser keys/);
  });
});
