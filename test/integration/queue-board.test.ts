import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { expect } from 'chai';
import { startDatabase, type Database } from '../../shared/database/index.js';
import { DEFAULT_PUSH_HOSTS } from '../../shared/push-endpoints/index.js';
import { QUEUE_NAMES } from '../../shared/topics/index.js';
import { startSubscriptionApi, type SubscriptionApi } from '../../services/subscription-api/start-subscription-api.js';
import { obliterateQueues } from '../support/queues.js';
import { testLogger } from '../support/silent-logger.js';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../support/test-databases.js';
import { TEST_JWT_SECRET, userToken } from '../support/tokens.js';

const ADMIN_KEY = `admin-key-${randomUUID()}`;
const CRM_ADMIN_KEY = `crm-admin-key-${randomUUID()}`;
const SERVICE_KEY = `service-key-${randomUUID()}`;
const basic = (password: string) => `Basic ${Buffer.from(`ops:${password}`).toString('base64')}`;

describe('the queue board at /admin/queues', function () {
  this.timeout(30_000);
  const prefix = `test-${randomUUID()}`;
  let testDb: TestDatabase;
  let database: Database;
  let api: SubscriptionApi;
  let base: string;

  before(async function () {
    testDb = await createTestDatabase('sqlite');
    database = await startDatabase(testDb.config, testLogger());
    api = await startSubscriptionApi({
      http: { host: '127.0.0.1', port: { port: 0, explicit: true } },
      auth: {
        jwtSecret: TEST_JWT_SECRET,
        apiKeys: [
          { name: 'ops', key: ADMIN_KEY, packages: '*', admin: true, router: false },
          { name: 'crm-ops', key: CRM_ADMIN_KEY, packages: ['crm'], admin: true, router: false },
          { name: 'crm-app', key: SERVICE_KEY, packages: '*', admin: false, router: false },
        ],
      },
      push: { endpointPolicy: { allowedHosts: DEFAULT_PUSH_HOSTS, allowInsecureLoopback: false } },
      redis: { url: TEST_REDIS_URL, queuePrefix: prefix },
      dataSource: database.dataSource,
      log: testLogger(),
    });
    base = `http://127.0.0.1:${api.port}`;
  });
  after(async function () {
    await api?.close();
    await database?.close();
    await testDb?.drop();
    await obliterateQueues(TEST_REDIS_URL, prefix);
  });

  it('asks for credentials without a key (401 with a Basic challenge), page and assets alike', async function () {
    for (const path of ['/admin/queues', '/admin/queues/static/favicon.ico', '/admin/queues/api/queues']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).to.equal(401);
      expect(res.headers.get('www-authenticate'), path).to.match(/^Basic realm="axion-push admin"/);
      expect(((await res.json()) as { error: { code: string } }).error.code).to.equal('unauthenticated');
    }
    expect((await fetch(`${base}/admin/queues`, { headers: { 'x-api-key': 'not-a-key-0123456789' } })).status).to.equal(401);
  });

  it('refuses a service key, an admin key for some packages only, and a user token (403 / 401)', async function () {
    const service = await fetch(`${base}/admin/queues`, { headers: { 'x-api-key': SERVICE_KEY } });
    const crmAdmin = await fetch(`${base}/admin/queues`, { headers: { authorization: basic(CRM_ADMIN_KEY) } });
    const user = await fetch(`${base}/admin/queues`, {
      headers: { authorization: `Bearer ${await userToken('alice', ['crm'])}` },
    });

    expect(service.status).to.equal(403);
    expect(crmAdmin.status).to.equal(403);
    expect(user.status).to.equal(401);
  });

  it('serves the board to an admin key, over HTTP Basic as a browser sends it, with nothing loaded off-origin', async function () {
    const headers = { authorization: basic(ADMIN_KEY) };
    const page = await fetch(`${base}/admin/queues`, { headers });
    const html = await page.text();

    expect(page.status).to.equal(200);
    expect(html).to.contain('axion-push queues');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).to.contain("default-src 'self'").and.to.contain("font-src 'self' data:");
    expect(csp).to.not.match(/https?:/);
    // The page names its fonts at fonts.googleapis.com; the policy keeps the browser from going
    // there. Everything it runs or styles itself with comes from the board's own path.
    const assets = [...html.matchAll(/<(?:script|link)\b[^>]*?(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    const local = assets.filter((a) => !/^https?:/.test(a));
    expect(local.filter((a) => a.endsWith('.js')).length).to.be.at.least(1);
    for (const asset of local) {
      const res = await fetch(new URL(asset, `${base}/admin/queues/`), { headers });
      expect(res.status, asset).to.equal(200);
    }
    expect(assets.filter((a) => /^https?:/.test(a)).every((a) => a.startsWith('https://fonts.googleapis.com/'))).to.equal(true);
  });

  it('lists the route, push, reminders and inbox queues with their jobs', async function () {
    const queue = new Queue(QUEUE_NAMES.push, { connection: { url: TEST_REDIS_URL }, prefix });
    try {
      await queue.add('push', { eventId: 'board-check' }, { delay: 60_000 });
    } finally {
      await queue.close();
    }

    const res = await fetch(`${base}/admin/queues/api/queues?activeQueue=push&status=delayed`, {
      headers: { 'x-api-key': ADMIN_KEY },
    });
    const body = (await res.json()) as { queues: { name: string; counts: Record<string, number> }[] };

    expect(res.status).to.equal(200);
    expect(body.queues.map((q) => q.name)).to.have.members([QUEUE_NAMES.route, QUEUE_NAMES.push, QUEUE_NAMES.reminders, QUEUE_NAMES.inbox]);
    expect(body.queues.find((q) => q.name === QUEUE_NAMES.push)!.counts['delayed']).to.equal(1);
  });

  it('takes changes only from the board\'s own page, not from another site with the browser\'s credentials', async function () {
    const headers = { authorization: basic(ADMIN_KEY) };
    const crossSite = await fetch(`${base}/admin/queues/api/queues/${QUEUE_NAMES.route}/pause`, {
      method: 'PUT',
      headers: { ...headers, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    });
    const own = await fetch(`${base}/admin/queues/api/queues/${QUEUE_NAMES.route}/resume`, {
      method: 'PUT',
      headers: { ...headers, origin: base, 'sec-fetch-site': 'same-origin' },
    });

    expect(crossSite.status).to.equal(403);
    expect(own.status).to.equal(200);
  });
});
