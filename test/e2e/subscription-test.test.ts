import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Fleet } from '../support/fleet.js';
import { LocalPushService } from '../support/local-push-service.js';
import { createTestDatabase } from '../support/test-databases.js';
import { userToken } from '../support/tokens.js';
import { createBrowserKeys, type BrowserKeys } from '../support/web-push-receiver.js';
import { openPush } from '../support/whole-path.js';

const KEYS = { producer: 'crm-producer-key-0123456789abcdef', router: 'router-key-0123456789abcdef' };

/**
 * POST /v1/subscriptions/test with the subscription-api and a push-worker in their own
 * processes (MariaDB, shared Redis) and a local push service that decrypts what it receives.
 */
describe('POST /v1/subscriptions/test, API and push-worker apart', function () {
  this.timeout(60_000);
  const fleet = new Fleet();
  let pushService: LocalPushService;
  let base: string;

  before(async function () {
    pushService = await new LocalPushService().start();
    fleet.database = await createTestDatabase('mysql');
    const env = fleet.env(KEYS, { HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', PUSH_ALLOW_INSECURE_LOOPBACK: 'true', PUSH_MAX_ATTEMPTS: '2' });
    const api = fleet.start('subscription-api', env);
    base = `http://127.0.0.1:${(await api.waitForLog('http api listening'))['port']}`;
  });

  after(async function () {
    await fleet.close();
    await pushService?.close();
  });

  async function call(method: string, path: string, token: string, body?: unknown) {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }

  /** A crm user with one browser subscription per answer the push service gives it. */
  async function subscriber(answers: number[]) {
    const user = `user-${randomUUID().slice(0, 8)}`;
    const token = await userToken(user, ['crm']);
    const subs: { path: string; endpoint: string; keys: BrowserKeys }[] = [];
    for (const status of answers) {
      const path = `/push/${user}/${subs.length}-${status}`;
      const keys = createBrowserKeys();
      const endpoint = pushService.endpoint(path, status);
      const res = await call('POST', '/v1/subscriptions', token, { package: 'crm', endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      subs.push({ path, endpoint, keys });
    }
    return { user, token, subs };
  }

  it('answers pending (202) within its bound when no push-worker is running, instead of hanging', async function () {
    const { token, subs } = await subscriber([201]);
    const started = Date.now();
    const res = await call('POST', '/v1/subscriptions/test', token, { package: 'crm', endpoint: subs[0]!.endpoint });
    expect(res.status).to.equal(202);
    expect(res.body).to.include({ outcome: 'pending' });
    expect(res.body['message']).to.contain('no push-worker');
    expect(Date.now() - started).to.be.within(9_000, 13_000);
  });

  describe('with a push-worker running', function () {
    before(async function () {
      const env = fleet.env(KEYS, { PUSH_ALLOW_INSECURE_LOOPBACK: 'true', PUSH_MAX_ATTEMPTS: '2' });
      await fleet.start('push-worker', env).waitForLog('push-worker started');
    });

    it('sends to that one subscription only and answers sent', async function () {
      const { user, token, subs } = await subscriber([201, 201]);
      const [chosen, other] = subs;
      const res = await call('POST', '/v1/subscriptions/test', token, { package: 'crm', endpoint: chosen!.endpoint });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body).to.include({ outcome: 'sent' });

      const [push] = await pushService.waitFor(chosen!.path);
      expect(openPush(push!.body, chosen!.keys)).to.include({ id: res.body['id'], package: 'crm', user, title: 'Test notification' });
      await new Promise((r) => setTimeout(r, 300));
      expect(pushService.requestsTo(other!.path)).to.have.length(0);
    });

    it('answers gone with the status when the push service answers 410, and the subscription is deactivated', async function () {
      const { token, subs } = await subscriber([410]);
      const res = await call('POST', '/v1/subscriptions/test', token, { package: 'crm', endpoint: subs[0]!.endpoint });
      expect(res.status).to.equal(200);
      expect(res.body).to.include({ outcome: 'gone', status: 410 });
      const list = await call('GET', '/v1/subscriptions?package=crm', token);
      expect(list.body['subscriptions'][0]).to.include({ active: false, deactivatedReason: 'push-service-410' });
      // Now inactive: nothing more to test.
      const again = await call('POST', '/v1/subscriptions/test', token, { package: 'crm', endpoint: subs[0]!.endpoint });
      expect(again.status).to.equal(404);
    });

    it('answers failed when the push service refuses it for good', async function () {
      const { token, subs } = await subscriber([400]);
      const res = await call('POST', '/v1/subscriptions/test', token, { package: 'crm', endpoint: subs[0]!.endpoint });
      expect(res.status).to.equal(200);
      expect(res.body).to.include({ outcome: 'failed' });
    });

    it('answers 404 for someone else\'s subscription and sends nothing', async function () {
      const owner = await subscriber([201]);
      const intruder = await subscriber([]);
      const res = await call('POST', '/v1/subscriptions/test', intruder.token, { package: 'crm', endpoint: owner.subs[0]!.endpoint });
      expect(res.status).to.equal(404);
      await new Promise((r) => setTimeout(r, 300));
      expect(pushService.requestsTo(owner.subs[0]!.path)).to.have.length(0);
    });

    it('refuses a caller without a token (401) and a package the caller is not in (403)', async function () {
      const { subs } = await subscriber([201]);
      const anonymous = await fetch(`${base}/v1/subscriptions/test`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ package: 'crm', endpoint: subs[0]!.endpoint }),
      });
      expect(anonymous.status).to.equal(401);
      const billingUser = await userToken('bill', ['billing']);
      expect((await call('POST', '/v1/subscriptions/test', billingUser, { package: 'crm', endpoint: subs[0]!.endpoint })).status).to.equal(403);
    });
  });
});
