import { createHash, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { API_ROUTES } from '../../services/subscription-api/api-routes.js';
import { startSubscriptionApi } from '../../services/subscription-api/start-subscription-api.js';
import { loadConfig, type RateLimitSettings } from '../../shared/config/index.js';
import { startDatabase } from '../../shared/database/index.js';
import { createLogger } from '../../shared/logging/index.js';
import { PrivateRedisServer } from '../support/private-redis-server.js';
import { obliterateQueues } from '../support/queues.js';
import { testLogger } from '../support/silent-logger.js';
import { startTestApi, type ApiAnswer, type TestApi, type TestApiOptions } from '../support/test-api.js';
import { createTestDatabase, TEST_REDIS_URL } from '../support/test-databases.js';
import { userToken } from '../support/tokens.js';
import { until } from '../support/until.js';

const SERVICE_KEY = 'crm-service-key-0123456789';
const apiKeys = [{ name: 'crm-app', key: SERVICE_KEY, packages: ['crm'], admin: false, router: false }];
const OFF: RateLimitSettings = { userPerMinute: 0, servicePerMinute: 0, ipPerMinute: 0 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `n` requests one after the other; their statuses. */
async function statuses(n: number, send: () => Promise<ApiAnswer>): Promise<number[]> {
  const seen: number[] = [];
  for (let i = 0; i < n; i++) seen.push((await send()).status);
  return seen;
}

function expectRateLimited(answer: ApiAnswer): void {
  expect(answer.status).to.equal(429);
  expect(answer.body).to.have.nested.property('error.code', 'rate_limited');
  expect(answer.body['error'].message).to.be.a('string');
  const retryAfter = Number(answer.headers.get('retry-after'));
  expect(retryAfter).to.be.within(1, 60);
}

describe('HTTP rate limits (Redis, SQLite)', function () {
  this.timeout(60_000);
  const apis: TestApi[] = [];
  const start = async (rateLimits: RateLimitSettings, more: Partial<TestApiOptions> = {}) => {
    const api = await startTestApi({ database: 'sqlite', apiKeys, rateLimits, ...more });
    apis.push(api);
    return api;
  };

  afterEach(async function () {
    for (const api of apis.splice(0).reverse()) await api.close();
  });

  it('answers 429 with Retry-After once a user passes their limit, in every package, and counts another user apart', async function () {
    const api = await start({ ...OFF, userPerMinute: 3 });
    const alice = { authorization: `Bearer ${await userToken('alice', ['crm'])}` };
    const aliceElsewhere = { authorization: `Bearer ${await userToken('alice', ['billing'])}` };
    const bob = { authorization: `Bearer ${await userToken('bob', ['crm'])}` };

    expect(await statuses(3, () => api.call('GET', '/v1/subscriptions?package=crm', undefined, alice))).to.deep.equal([200, 200, 200]);
    expectRateLimited(await api.call('GET', '/v1/subscriptions?package=crm', undefined, alice));
    expectRateLimited(await api.call('GET', '/v1/subscriptions?package=billing', undefined, aliceElsewhere));
    expect((await api.call('GET', '/v1/subscriptions?package=crm', undefined, bob)).status).to.equal(200);
  });

  it('counts an API key by its hash across two API instances sharing Redis, never by the key itself', async function () {
    const prefix = `test-${randomUUID()}`;
    const limits = { ...OFF, servicePerMinute: 4 };
    const first = await start(limits, { prefix });
    const second = await start(limits, { prefix });
    const key = { 'x-api-key': SERVICE_KEY };

    const seen = [
      ...(await statuses(2, () => first.call('GET', '/v1/notifications/unknown', undefined, key))),
      ...(await statuses(2, () => second.call('GET', '/v1/notifications/unknown', undefined, key))),
    ];
    expect(seen).to.deep.equal([404, 404, 404, 404]);
    expectRateLimited(await first.call('GET', '/v1/notifications/unknown', undefined, key));
    // The same key as a Bearer token is the same caller.
    expectRateLimited(await second.call('GET', '/v1/notifications/unknown', undefined, { authorization: `Bearer ${SERVICE_KEY}` }));

    const keys = await first.redis.keys(`${prefix}:rl:*`);
    const digest = createHash('sha256').update(SERVICE_KEY).digest('base64url');
    expect(keys).to.deep.equal([`${prefix}:rl:service:${digest}`]);
  });

  it('counts requests without accepted credentials by address, and never limits the routes the route table marks unlimited', async function () {
    const api = await start({ ...OFF, ipPerMinute: 2 });
    const forged = { authorization: 'Bearer not-a-token' };

    expect(await statuses(2, () => api.call('GET', '/v1/vapid/crm'))).to.deep.equal([200, 200]);
    expectRateLimited(await api.call('GET', '/v1/vapid/crm'));
    // A token that does not verify is no way around the address's limit.
    expectRateLimited(await api.call('GET', '/v1/subscriptions?package=crm', undefined, forged));
    // The test app serves no /metrics (an `only` route); a request the limiter saw would be 429.
    const unlimited = API_ROUTES.filter((r) => r.unlimited && r.only === undefined).map((r) => r.path);
    expect(unlimited).to.include.members(['/healthz', '/readyz']);
    for (const path of unlimited) expect(await statuses(3, () => api.call('GET', path)), path).to.deep.equal([200, 200, 200]);
  });

  it('counts the address a trusted proxy forwards, and only a trusted one', async function () {
    const behindProxy = await start({ ...OFF, ipPerMinute: 1 }, { trustedProxies: ['127.0.0.1'] });
    const from = (address: string) => ({ 'x-forwarded-for': address });

    expect((await behindProxy.call('GET', '/v1/vapid/crm', undefined, from('203.0.113.1'))).status).to.equal(200);
    expect((await behindProxy.call('GET', '/v1/vapid/crm', undefined, from('203.0.113.2'))).status).to.equal(200);
    expectRateLimited(await behindProxy.call('GET', '/v1/vapid/crm', undefined, from('203.0.113.1')));

    const direct = await start({ ...OFF, ipPerMinute: 1 });
    expect((await direct.call('GET', '/v1/vapid/crm', undefined, from('203.0.113.1'))).status).to.equal(200);
    expectRateLimited(await direct.call('GET', '/v1/vapid/crm', undefined, from('203.0.113.2')));
  });

  it('takes a limit of 0 as no limit', async function () {
    const api = await start({ ...OFF, userPerMinute: 1 });
    expect(await statuses(5, () => api.call('GET', '/v1/vapid/crm'))).to.deep.equal([200, 200, 200, 200, 200]);
  });

  it('is on in the API as a deployment starts it, with the limits of the settings', async function () {
    const prefix = `test-${randomUUID()}`;
    const testDb = await createTestDatabase('sqlite');
    const database = await startDatabase(testDb.config, testLogger());
    const config = loadConfig({ RATE_LIMIT_IP_PER_MINUTE: '2', HTTP_HOST: '127.0.0.1', HTTP_PORT: '0' });
    const api = await startSubscriptionApi({
      http: config.http,
      auth: { jwtSecret: undefined, apiKeys: [] },
      push: { endpointPolicy: config.push.endpointPolicy },
      redis: { url: TEST_REDIS_URL, queuePrefix: prefix },
      dataSource: database.dataSource,
      log: testLogger(),
    });
    try {
      const get = async () => fetch(`http://127.0.0.1:${api.port}/v1/vapid/crm`);
      await until(async () => (await get()).status === 429, 'the third request in a minute is refused');
      expect((await get()).headers.get('retry-after')).to.match(/^\d+$/);
    } finally {
      await api.close();
      await database.close();
      await testDb.drop();
      await obliterateQueues(TEST_REDIS_URL, prefix);
    }
  });

  describe('while Redis is down', function () {
    // Made in the hook: the server makes its data directory when it is created.
    let redis: PrivateRedisServer;
    before(async function () {
      redis = await new PrivateRedisServer().start();
    });
    after(async function () {
      await redis?.remove();
    });

    it('lets requests through with a logged warning, and counts again once Redis is back', async function () {
      const lines: string[] = [];
      const sink = new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) });
      const log = createLogger({ level: 'warn', name: 'test', destination: sink });
      const api = await start({ ...OFF, userPerMinute: 2, servicePerMinute: 2 }, { redisUrl: redis.url, log });
      const alice = { authorization: `Bearer ${await userToken('alice', ['crm'])}` };
      const service = { 'x-api-key': SERVICE_KEY };

      await redis.stop();
      // Listing subscriptions needs only the database: it keeps working, unlimited.
      expect(await statuses(5, () => api.call('GET', '/v1/subscriptions?package=crm', undefined, alice))).to.deep.equal([200, 200, 200, 200, 200]);
      // A service's requests too, and its key is in no warning about them.
      expect(await statuses(3, () => api.call('GET', '/v1/notifications/unknown', undefined, service))).to.deep.equal([404, 404, 404]);
      expect(lines.some((line) => line.includes('rate limits not counted'))).to.equal(true);
      expect(lines.join('')).not.to.include(SERVICE_KEY);

      await redis.start();
      const deadline = Date.now() + 20_000;
      while (api.redis.status !== 'ready') {
        if (Date.now() > deadline) throw new Error('the API did not reconnect to Redis');
        await sleep(100);
      }
      expect(await statuses(2, () => api.call('GET', '/v1/subscriptions?package=crm', undefined, alice))).to.deep.equal([200, 200]);
      expectRateLimited(await api.call('GET', '/v1/subscriptions?package=crm', undefined, alice));
    });
  });
});
