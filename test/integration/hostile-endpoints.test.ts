import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { startTestApi, type TestApi } from '../support/test-api.js';
import { userToken } from '../support/tokens.js';
import { createBrowserKeys } from '../support/web-push-receiver.js';

const FCM = 'https://fcm.googleapis.com/fcm/send/';

/** Endpoints an attacker might register to make our servers POST somewhere they choose. */
const HOSTILE_ENDPOINTS: Array<[string, string]> = [
  ['plain http', 'http://fcm.googleapis.com/fcm/send/x'],
  ['port 80 on https', 'https://fcm.googleapis.com:80/fcm/send/x'],
  ['port 8443', 'https://fcm.googleapis.com:8443/fcm/send/x'],
  ['port 0', 'https://fcm.googleapis.com:0/fcm/send/x'],
  ['user info', 'https://user:pw@fcm.googleapis.com/fcm/send/x'],
  ['a user name alone', 'https://attacker@fcm.googleapis.com/fcm/send/x'],
  ['the allowed host as user info of another host', 'https://fcm.googleapis.com@evil.example/fcm/send/x'],
  ['the allowed host and port as user info', 'https://fcm.googleapis.com:443@evil.example/'],
  ['an IPv4 loopback literal', 'https://127.0.0.1/fcm/send/x'],
  ['the cloud metadata address', 'http://169.254.169.254/latest/meta-data/'],
  ['a private IPv4 literal', 'https://10.0.0.1/fcm/send/x'],
  ['loopback in decimal', 'https://2130706433/'],
  ['loopback in hex', 'https://0x7f.1/'],
  ['loopback in octal', 'https://0177.0.0.1/'],
  ['loopback shortened', 'https://127.1/'],
  ['the unspecified address', 'https://0.0.0.0/'],
  ['the unspecified address as one number', 'https://0/'],
  ['IPv6 loopback', 'https://[::1]/'],
  ['IPv4-mapped IPv6 loopback', 'https://[::ffff:127.0.0.1]/'],
  ['IPv6 unspecified', 'https://[::]/'],
  ['IPv6 link-local', 'https://[fe80::1]/'],
  ['localhost', 'https://localhost/fcm/send/x'],
  ['localhost with a trailing dot', 'https://localhost./fcm/send/x'],
  ['the allowed host in the path', 'https://evil.example/fcm.googleapis.com/fcm/send/x'],
  ['the allowed host in the query', 'https://evil.example/?endpoint=https://fcm.googleapis.com/'],
  ['the allowed host as a prefix', 'https://fcm.googleapis.com.evil.example/fcm/send/x'],
  ['a host that only ends with the same characters', 'https://evilfcm.googleapis.com/fcm/send/x'],
  ['a parent domain of an allowed host', 'https://googleapis.com/fcm/send/x'],
  ['the allowed host with a trailing dot', 'https://fcm.googleapis.com./fcm/send/x'],
  ['the backslash trick', 'https://evil.example\\@fcm.googleapis.com/fcm/send/x'],
  ['a percent-encoded host', 'https://%66%63%6d.googleapis.com/fcm/send/x'],
  ['a percent-encoded dot that makes another host', 'https://fcm.googleapis.com%2eevil.example/'],
  ['an IDN homograph (Greek omicron)', 'https://fcm.googleapis.c\u03bfm/fcm/send/x'],
  ['file:', 'file:///etc/passwd'],
  ['javascript:', 'javascript:alert(1)'],
  ['data:', 'data:text/plain,fcm.googleapis.com'],
  ['gopher:', 'gopher://fcm.googleapis.com/_x'],
  ['ftp:', 'ftp://fcm.googleapis.com/fcm/send/x'],
  ['ws:', 'ws://fcm.googleapis.com/fcm/send/x'],
  ['wss:', 'wss://fcm.googleapis.com/fcm/send/x'],
  ['blank', ''],
  ['only spaces', '   '],
  ['2049 characters', FCM + 'a'.repeat(2049 - FCM.length)],
  ['schemeless', '//fcm.googleapis.com/fcm/send/x'],
  ['wrapped in whitespace', ' https://fcm.googleapis.com/fcm/send/x '],
  ['a fragment', 'https://fcm.googleapis.com/fcm/send/x#frag'],
  ['an empty fragment', 'https://fcm.googleapis.com/fcm/send/x#'],
];

describe('POST /v1/subscriptions with hostile endpoints', function () {
  let api: TestApi;

  before(async function () {
    api = await startTestApi({ database: 'sqlite', apiKeys: [] });
  });

  after(async function () {
    await api?.close();
  });

  async function subscribe(endpoint: string, token: string) {
    const keys = createBrowserKeys();
    return api.call(
      'POST',
      '/v1/subscriptions',
      { package: 'crm', endpoint, expirationTime: null, keys: { p256dh: keys.p256dh, auth: keys.auth } },
      { authorization: `Bearer ${token}` },
    );
  }

  async function listed(token: string): Promise<unknown[]> {
    const res = await api.call('GET', '/v1/subscriptions?package=crm', undefined, { authorization: `Bearer ${token}` });
    expect(res.status).to.equal(200);
    return (res.body as { subscriptions: unknown[] }).subscriptions;
  }

  it('accepts a real FCM endpoint sent the same way, so the refusals below are about the endpoint', async function () {
    const token = await userToken(`u-${randomUUID()}`, ['crm']);

    const res = await subscribe(`${FCM}${randomUUID()}`, token);

    expect(res.status).to.equal(201);
    expect(await listed(token)).to.have.length(1);
  });

  it(`has at least 30 hostile endpoints in its table (${HOSTILE_ENDPOINTS.length})`, function () {
    expect(HOSTILE_ENDPOINTS.length).to.be.at.least(30);
  });

  for (const [what, endpoint] of HOSTILE_ENDPOINTS) {
    const shown = endpoint.length > 80 ? `${endpoint.slice(0, 60)}… (${endpoint.length} chars)` : JSON.stringify(endpoint);
    it(`refuses ${what}: ${shown} with 400 and stores nothing`, async function () {
      const token = await userToken(`u-${randomUUID()}`, ['crm']);

      const res = await subscribe(endpoint, token);

      expect(res.status).to.equal(400);
      expect(res.body['error']['message']).to.contain('endpoint');
      expect(await listed(token)).to.deep.equal([]);
    });
  }
});
