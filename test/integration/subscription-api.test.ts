import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { expect } from 'chai';
import { QUEUE_NAMES, routeJobId } from '../../shared/topics/index.js';
import { startTestApi, type TestApi } from '../support/test-api.js';
import { TEST_JWT_SECRET, userToken } from '../support/tokens.js';
import { createBrowserKeys } from '../support/web-push-receiver.js';

const SERVICE_KEY = 'crm-service-key-0123456789';
const OTHER_KEY = 'billing-service-key-0123456789';
const ADMIN_KEY = 'crm-admin-key-0123456789abcdef';

describe('subscription-api on MariaDB and Redis', function () {
  let api: TestApi;

  before(async function () {
    api = await startTestApi({
      database: 'mysql',
      apiKeys: [
        { name: 'crm-app', key: SERVICE_KEY, packages: ['crm'], admin: false, router: false },
        { name: 'billing-app', key: OTHER_KEY, packages: ['billing'], admin: false, router: false },
        { name: 'crm-admin', key: ADMIN_KEY, packages: ['crm'], admin: true, router: false },
      ],
    });
  });

  after(async function () {
    await api?.close();
  });

  const call: TestApi['call'] = (...args) => api.call(...args);

  function browserSubscription(pkg = 'crm') {
    const keys = createBrowserKeys();
    return {
      package: pkg,
      endpoint: `https://fcm.googleapis.com/fcm/send/${randomUUID()}`,
      expirationTime: null,
      keys: { p256dh: keys.p256dh, auth: keys.auth },
    };
  }

  describe('GET /v1/vapid/:package', function () {
    it('serves the same generated public key on every call', async function () {
      const first = await call('GET', '/v1/vapid/crm');
      const second = await call('GET', '/v1/vapid/crm');
      expect(first.status).to.equal(200);
      expect(first.body['publicKey']).to.match(/^B[A-Za-z0-9_-]{86}$/);
      expect(second.body['publicKey']).to.equal(first.body['publicKey']);
    });

    it('gives each package its own key', async function () {
      const crm = await call('GET', '/v1/vapid/crm');
      const billing = await call('GET', '/v1/vapid/billing');
      expect(billing.body['publicKey']).to.not.equal(crm.body['publicKey']);
    });

    it('rejects a package name outside the allowed characters', async function () {
      const res = await call('GET', `/v1/vapid/${encodeURIComponent('a+b')}`);
      expect(res.status).to.equal(400);
      expect(res.body['error']['code']).to.equal('invalid_request');
    });
  });

  describe('POST /v1/subscriptions', function () {
    it('answers 401 without a token and with a token signed by another secret', async function () {
      expect((await call('POST', '/v1/subscriptions', browserSubscription())).status).to.equal(401);
      const forged = await userToken('alice', ['crm'], { secret: 'another-secret-that-is-also-long-enough-000' });
      const res = await call('POST', '/v1/subscriptions', browserSubscription(), { authorization: `Bearer ${forged}` });
      expect(res.status).to.equal(401);
      expect(res.body).to.deep.equal({ error: { code: 'unauthenticated', message: 'the token is not valid' } });
    });

    it('answers 401 for an expired token', async function () {
      const expired = await userToken('alice', ['crm'], { expiresIn: Math.floor(Date.now() / 1000) - 60 });
      const res = await call('POST', '/v1/subscriptions', browserSubscription(), { authorization: `Bearer ${expired}` });
      expect(res.status).to.equal(401);
    });

    it('answers 401 for a token without exp, which would otherwise be valid forever', async function () {
      const { SignJWT } = await import('jose');
      const eternal = await new SignJWT({ packages: ['crm'] })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('alice')
        .sign(new TextEncoder().encode(TEST_JWT_SECRET));
      const res = await call('POST', '/v1/subscriptions', browserSubscription(), { authorization: `Bearer ${eternal}` });
      expect(res.status).to.equal(401);
    });

    it('answers 403 for a package the user does not belong to', async function () {
      const token = await userToken('alice', ['billing']);
      const res = await call('POST', '/v1/subscriptions', browserSubscription('crm'), { authorization: `Bearer ${token}` });
      expect(res.status).to.equal(403);
    });

    it('rejects keys that are not a P-256 point and an auth secret that is not 16 bytes', async function () {
      const token = await userToken('alice', ['crm']);
      const bad = browserSubscription();
      bad.keys.p256dh = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]).toString('base64url');
      bad.keys.auth = Buffer.alloc(15).toString('base64url');
      const res = await call('POST', '/v1/subscriptions', bad, { authorization: `Bearer ${token}` });
      expect(res.status).to.equal(400);
      expect(res.body['error']['message']).to.contain('keys.p256dh').and.to.contain('keys.auth');
    });

    it('rejects an endpoint that is not https or not a known push service', async function () {
      const token = await userToken('alice', ['crm']);
      for (const endpoint of ['http://fcm.googleapis.com/fcm/send/x', 'https://evil.example/fcm.googleapis.com/x', 'not a url']) {
        const res = await call('POST', '/v1/subscriptions', { ...browserSubscription(), endpoint }, { authorization: `Bearer ${token}` });
        expect(res.status, endpoint).to.equal(400);
        expect(res.body['error']['message']).to.contain('endpoint');
      }
    });

    it('creates with 201, then updates the same endpoint with 200 and the same id', async function () {
      const user = `u-${randomUUID()}`;
      const token = await userToken(user, ['crm']);
      const sub = browserSubscription();
      const created = await call('POST', '/v1/subscriptions', sub, { authorization: `Bearer ${token}` });
      const renewed = await call('POST', '/v1/subscriptions', { ...browserSubscription(), endpoint: sub.endpoint }, { authorization: `Bearer ${token}` });

      expect(created.status).to.equal(201);
      expect(created.body).to.include({ ok: true, total: 1 });
      expect(renewed.status).to.equal(200);
      expect(renewed.body).to.deep.equal({ ok: true, id: created.body['id'], total: 1 });
    });

    it('answers 400 for a body that is not JSON', async function () {
      const token = await userToken('alice', ['crm']);
      const res = await call('POST', '/v1/subscriptions', '{"endpoint":', { authorization: `Bearer ${token}` });
      expect(res.status).to.equal(400);
      expect(res.body['error']['code']).to.equal('invalid_json');
    });
  });

  describe('GET and DELETE /v1/subscriptions', function () {
    it('lists the caller own subscriptions without key material, and soft-deletes one', async function () {
      const user = `u-${randomUUID()}`;
      const token = await userToken(user, ['crm']);
      const auth = { authorization: `Bearer ${token}` };
      const sub = browserSubscription();
      await call('POST', '/v1/subscriptions', { ...sub, module: 'deals' }, auth);
      const otherUser = await userToken(`other-${randomUUID()}`, ['crm']);
      await call('POST', '/v1/subscriptions', browserSubscription(), { authorization: `Bearer ${otherUser}` });

      const listed = await call('GET', '/v1/subscriptions?package=crm', undefined, auth);
      expect(listed.status).to.equal(200);
      expect(listed.body['subscriptions']).to.have.length(1);
      expect(listed.body['subscriptions'][0]).to.include({ endpoint: sub.endpoint, module: 'deals', active: true });
      expect(JSON.stringify(listed.body)).to.not.contain(sub.keys.p256dh).and.not.contain(sub.keys.auth);

      const removed = await call('DELETE', '/v1/subscriptions', { package: 'crm', endpoint: sub.endpoint }, auth);
      expect(removed.status).to.equal(200);
      const after = await call('GET', '/v1/subscriptions?package=crm', undefined, auth);
      expect(after.body['subscriptions'][0]).to.include({ active: false, deactivatedReason: 'unsubscribed' });
    });

    it("lets an admin key list any user's subscriptions within its packages, and nobody else", async function () {
      const user = `u-${randomUUID()}`;
      const token = await userToken(user, ['crm', 'billing']);
      await call('POST', '/v1/subscriptions', browserSubscription('crm'), { authorization: `Bearer ${token}` });
      await call('POST', '/v1/subscriptions', browserSubscription('billing'), { authorization: `Bearer ${token}` });

      const asAdmin = await call('GET', `/v1/subscriptions?user=${user}`, undefined, { 'x-api-key': ADMIN_KEY });
      expect(asAdmin.status).to.equal(200);
      expect(asAdmin.body['subscriptions'].map((s: { package: string }) => s.package)).to.deep.equal(['crm']);
      const outside = await call('GET', `/v1/subscriptions?user=${user}&package=billing`, undefined, { 'x-api-key': ADMIN_KEY });
      expect(outside.status).to.equal(403);
      const notAdmin = await call('GET', `/v1/subscriptions?user=${user}`, undefined, { 'x-api-key': SERVICE_KEY });
      expect(notAdmin.status).to.equal(403);
      const asUser = await call('GET', `/v1/subscriptions?user=${user}`, undefined, { authorization: `Bearer ${token}` });
      expect(asUser.status).to.equal(401);
    });

    it('answers 404 when deleting an endpoint the caller never subscribed', async function () {
      const token = await userToken('alice', ['crm']);
      const res = await call('DELETE', '/v1/subscriptions', { package: 'crm', endpoint: 'https://fcm.googleapis.com/fcm/send/none' }, { authorization: `Bearer ${token}` });
      expect(res.status).to.equal(404);
    });
  });

  describe('POST /v1/notifications', function () {
    const notification = (extra: Record<string, unknown> = {}) => ({
      package: 'crm',
      target: { user: 'alice' },
      title: 'Deal closed',
      body: 'ACME signed',
      ...extra,
    });

    it('answers 401 without an API key and 403 for a key of another package', async function () {
      expect((await call('POST', '/v1/notifications', notification())).status).to.equal(401);
      const res = await call('POST', '/v1/notifications', notification(), { 'x-api-key': OTHER_KEY });
      expect(res.status).to.equal(403);
    });

    it('accepts with 202, and the event waits in the route queue', async function () {
      const res = await call('POST', '/v1/notifications', notification(), { 'x-api-key': SERVICE_KEY });
      expect(res.status).to.equal(202);
      const queue = new Queue(QUEUE_NAMES.route, { connection: api.redis, prefix: api.prefix });
      const job = await queue.getJob(routeJobId(res.body['id']));
      await queue.close();
      expect(job?.data).to.include({ id: res.body['id'], package: 'crm', source: 'http' });
      expect(job?.data.event).to.include({ title: 'Deal closed', ttl: 86400, urgency: 'normal', delivery: 'offline' });
    });

    it('answers a repeated id with the same 202, and another event under that id with 409', async function () {
      const id = `evt-${randomUUID()}`;
      const first = await call('POST', '/v1/notifications', notification({ id }), { authorization: `Bearer ${SERVICE_KEY}` });
      const again = await call('POST', '/v1/notifications', notification({ id }), { authorization: `Bearer ${SERVICE_KEY}` });
      const clash = await call('POST', '/v1/notifications', notification({ id, title: 'Other' }), { 'x-api-key': SERVICE_KEY });
      expect([first.status, again.status, clash.status]).to.deep.equal([202, 202, 409]);
      expect(again.body).to.deep.equal({ id });
    });

    it('answers 413 when the message cannot fit one Web Push record', async function () {
      const res = await call('POST', '/v1/notifications', notification({ body: 'x'.repeat(1000), data: { blob: 'y'.repeat(3500) } }), { 'x-api-key': SERVICE_KEY });
      expect(res.status).to.equal(413);
      expect(res.body['error']['code']).to.equal('too_large');
    });

    it('answers 400 naming every bad field', async function () {
      const res = await call('POST', '/v1/notifications', { package: 'crm', target: { user: 'a/b' }, title: '', urgency: 'now', extra: 1 }, { 'x-api-key': SERVICE_KEY });
      expect(res.status).to.equal(400);
      for (const field of ['target', 'title', 'urgency', 'extra']) expect(res.body['error']['message']).to.contain(field);
    });
  });

  it('answers unknown routes with 404 in the error shape', async function () {
    const res = await call('GET', '/v1/nothing');
    expect(res.status).to.equal(404);
    expect(res.body['error']['code']).to.equal('not_found');
  });
});
