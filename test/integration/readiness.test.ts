import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadConfig } from '../../shared/config/index.js';
import { startDatabase, type Database } from '../../shared/database/index.js';
import { closeAll } from '../../shared/lifecycle/index.js';
import { createReadiness } from '../../shared/health/index.js';
import { createMetricsRegistry, startMetricsServer, type MetricsServer } from '../../shared/metrics/index.js';
import { DEFAULT_PUSH_HOSTS } from '../../shared/push-endpoints/index.js';
import { startAllInOne, type AllInOne } from '../../services/all-in-one/start-all-in-one.js';
import { startBroker, type Broker } from '../../services/broker/start-broker.js';
import { startNotifyRouter, type NotifyRouter } from '../../services/notify-router/start-notify-router.js';
import { startSubscriptionApi, type SubscriptionApi } from '../../services/subscription-api/start-subscription-api.js';
import { obliterateQueues } from '../support/queues.js';
import { testLogger } from '../support/silent-logger.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../support/test-databases.js';
import { TEST_JWT_SECRET } from '../support/tokens.js';

interface Readyz {
  status: number;
  retryAfter: string | null;
  seconds: number;
  body: { status?: string; error?: { code: string; message: string }; checks: Record<string, { ok: boolean; error?: string }> };
}

async function readyz(base: string): Promise<Readyz> {
  const started = performance.now();
  const res = await fetch(`${base}/readyz`);
  const body = (await res.json()) as Readyz['body'];
  return { status: res.status, retryAfter: res.headers.get('retry-after'), seconds: (performance.now() - started) / 1000, body };
}

/** Polls until `/readyz` answers `status` (a dependency coming back takes a reconnect). */
async function readyzUntil(base: string, status: number, timeoutMs = 15_000): Promise<Readyz> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await readyz(base);
    if (answer.status === status || Date.now() > deadline) return answer;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const url = (u: string) => new URL(u);
const through = (target: string, proxy: TcpProxy) => {
  const u = url(target);
  u.host = `127.0.0.1:${proxy.port}`;
  return u.href.replace(/\/$/, '');
};

describe('createReadiness', function () {
  it('names every check past its deadline, and does not start a check again while it still runs', async function () {
    let hungProbes = 0;
    const readiness = createReadiness(
      [
        { name: 'database', probe: async () => undefined },
        { name: 'redis', probe: () => { hungProbes++; return new Promise(() => undefined); } },
        { name: 'broker', probe: async () => { throw new Error('the MQTT connection is down'); } },
      ],
      { timeoutMs: 50 },
    );

    const reports = [await readiness(), await readiness(), await readiness()];

    for (const report of reports) {
      expect(report.ready).to.equal(false);
      expect(report.failing).to.deep.equal(['redis', 'broker']);
      expect(report.checks['redis']).to.include({ ok: false, error: 'no answer within 50 ms' });
      expect(report.checks['broker']).to.include({ ok: false, error: 'the MQTT connection is down' });
      expect(report.checks['database']).to.include({ ok: true });
    }
    expect(hungProbes).to.equal(1);
  });

  it('refuses two checks of the same name', function () {
    const check = { name: 'redis', probe: async () => undefined };
    expect(() => createReadiness([check, check])).to.throw('two readiness checks are named redis');
  });
});

describe('GET /readyz on the subscription-api', function () {
  this.timeout(60_000);
  const prefix = `test-${randomUUID()}`;
  let mysqlProxy: TcpProxy;
  let redisProxy: TcpProxy;
  let testDb: TestDatabase;
  let database: Database;
  let api: SubscriptionApi;
  let base: string;

  before(async function () {
    testDb = await createTestDatabase('mysql');
    const mysql = url(testDb.config.url);
    mysqlProxy = await new TcpProxy(mysql.hostname, Number(mysql.port || 3306)).start();
    const redis = url(TEST_REDIS_URL);
    redisProxy = await new TcpProxy(redis.hostname, Number(redis.port || 6379)).start();
    database = await startDatabase({ url: `${through(testDb.config.url, mysqlProxy)}` }, testLogger());
    api = await startSubscriptionApi({
      http: { host: '127.0.0.1', port: { port: 0, explicit: true } },
      auth: { jwtSecret: TEST_JWT_SECRET, apiKeys: [] },
      push: { endpointPolicy: { allowedHosts: DEFAULT_PUSH_HOSTS, allowInsecureLoopback: false } },
      redis: { url: through(TEST_REDIS_URL, redisProxy), queuePrefix: prefix },
      dataSource: database.dataSource,
      log: testLogger(),
    });
    base = `http://127.0.0.1:${api.port}`;
  });
  afterEach(function () {
    mysqlProxy.thaw();
    redisProxy.thaw();
  });
  after(async function () {
    await api?.close();
    await database?.close();
    await mysqlProxy?.close();
    await redisProxy?.close();
    await testDb?.drop();
    await obliterateQueues(TEST_REDIS_URL, prefix);
  });

  it('answers 200 with each dependency it checked when MySQL and Redis answer', async function () {
    const answer = await readyz(base);

    expect(answer.status, JSON.stringify(answer.body)).to.equal(200);
    expect(answer.body.status).to.equal('ready');
    expect(answer.body.checks).to.have.keys('database', 'redis');
    expect(answer.body.checks['database']!.ok).to.equal(true);
    expect(answer.body.checks['redis']!.ok).to.equal(true);
  });

  it('answers 503 within seconds naming Redis when Redis hangs, and 200 again when it is back', async function () {
    redisProxy.freeze();

    const answer = await readyz(base);

    expect(answer.status).to.equal(503);
    expect(answer.retryAfter).to.match(/^\d+$/);
    expect(answer.body.error).to.deep.equal({ code: 'unavailable', message: 'not ready: redis unreachable' });
    expect(answer.body.checks['redis']).to.include({ ok: false });
    expect(answer.body.checks['database']).to.include({ ok: true });
    // The per-check deadline is 1 s; generous room for a loaded machine, far below a probe's own.
    expect(answer.seconds).to.be.below(4);
    // Liveness is not readiness: the process itself is fine.
    expect((await fetch(`${base}/healthz`)).status).to.equal(200);

    redisProxy.thaw();
    expect((await readyzUntil(base, 200)).status).to.equal(200);
  });

  it('answers 503 naming the database when MySQL hangs, to every probe', async function () {
    mysqlProxy.freeze();

    const answers = [await readyz(base), await readyz(base), await readyz(base)];

    for (const answer of answers) {
      expect(answer.status).to.equal(503);
      expect(answer.body.error?.message).to.equal('not ready: database unreachable');
      expect(answer.body.checks['redis']).to.include({ ok: true });
      expect(answer.seconds).to.be.below(4);
    }
    mysqlProxy.thaw();
    expect((await readyzUntil(base, 200)).status).to.equal(200);
  });
});

describe('GET /readyz on the metrics port of the broker and of the notify-router', function () {
  this.timeout(60_000);
  const prefix = `test-${randomUUID()}`;
  const routerKey = `router-key-${randomUUID()}`;
  let testDb: TestDatabase;
  let database: Database;
  let broker: Broker | undefined;
  let router: NotifyRouter;
  const servers: MetricsServer[] = [];

  const serve = async (checks: NotifyRouter['readiness']) => {
    const server = await startMetricsServer({
      registry: createMetricsRegistry(),
      host: '127.0.0.1',
      port: 0,
      log: testLogger(),
      readiness: createReadiness(checks),
    });
    servers.push(server);
    return `http://127.0.0.1:${server.port}`;
  };

  before(async function () {
    testDb = await createTestDatabase('sqlite');
    database = await startDatabase(testDb.config, testLogger());
    const redis = { url: TEST_REDIS_URL, queuePrefix: prefix };
    broker = await startBroker({
      config: { host: '127.0.0.1', tcp: { port: 0, explicit: true }, ws: { port: 0, explicit: true } },
      auth: { jwtSecret: TEST_JWT_SECRET, apiKeys: [{ name: 'router', key: routerKey, packages: '*', admin: false, router: true }] },
      topicRoot: 'axion',
      redis,
      log: testLogger(),
    });
    router = await startNotifyRouter({
      mqtt: { url: `mqtt://127.0.0.1:${broker.tcpPort}`, username: 'router', password: routerKey, topicRoot: 'axion' },
      redis,
      pushAttempts: 3,
      dataSource: database.dataSource,
      inbox: { seenRetentionDays: 30 },
      log: testLogger(),
    });
  });
  after(async function () {
    for (const server of servers) await server.close();
    await router?.close();
    await broker?.close();
    await database?.close();
    await testDb?.drop();
    await obliterateQueues(TEST_REDIS_URL, prefix);
  });

  it('is ready while the broker is up: the broker checks itself and Redis, the router all three', async function () {
    const brokerBase = await serve(broker!.readiness);
    const routerBase = await serve(router.readiness);

    const [ofBroker, ofRouter] = [await readyz(brokerBase), await readyz(routerBase)];

    expect(ofBroker.status).to.equal(200);
    expect(ofBroker.body.checks).to.have.keys('broker', 'redis');
    expect(ofRouter.status).to.equal(200);
    expect(ofRouter.body.checks).to.have.keys('broker', 'database', 'redis');
    expect((await fetch(`${routerBase}/healthz`)).status).to.equal(200);
  });

  it('names the broker when the router has lost it, and so does the stopped broker', async function () {
    const brokerBase = await serve(broker!.readiness);
    const routerBase = await serve(router.readiness);
    await broker!.close();

    const ofRouter = await readyzUntil(routerBase, 503, 5_000);
    const ofBroker = await readyz(brokerBase);
    broker = undefined;

    expect(ofRouter.status).to.equal(503);
    expect(ofRouter.body.error?.message).to.equal('not ready: broker unreachable');
    expect(ofRouter.body.checks['database']).to.include({ ok: true });
    expect(ofRouter.body.checks['redis']).to.include({ ok: true });
    expect(ofBroker.status).to.equal(503);
    expect(ofBroker.body.error?.message).to.contain('broker');
  });
});

describe('GET /readyz of the all-in-one', function () {
  this.timeout(60_000);
  const prefix = `t${randomBytes(8).toString('hex')}`;
  const routerKey = `router-key-${randomUUID()}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'axion-all-in-one-'));
  let broker: Broker | undefined;
  let system: AllInOne | undefined;

  before(async function () {
    // An external broker (MQTT_URL), so the test can stop it under the running process.
    broker = await startBroker({
      config: { host: '127.0.0.1', tcp: { port: 0, explicit: true }, ws: { port: 0, explicit: true } },
      auth: { jwtSecret: TEST_JWT_SECRET, apiKeys: [{ name: 'router', key: routerKey, packages: '*', admin: false, router: true }] },
      topicRoot: 'axion',
      redis: { url: TEST_REDIS_URL, queuePrefix: prefix },
      log: testLogger(),
    });
    const config = loadConfig({
      DATA_DIR: dataDir,
      DATABASE_URL: `sqlite:${join(dataDir, 'axion.sqlite')}`,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      MQTT_URL: `mqtt://127.0.0.1:${broker.tcpPort}`,
      MQTT_USERNAME: 'router',
      MQTT_PASSWORD: routerKey,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      API_KEYS: `router:${routerKey}:*:router`,
      DEMO_PAGE: 'false',
    });
    system = await startAllInOne(config, testLogger());
  });
  after(async function () {
    if (system) await closeAll(system.services, testLogger());
    await broker?.close();
    rmSync(dataDir, { recursive: true, force: true });
    await obliterateQueues(TEST_REDIS_URL, prefix);
  });

  it("checks the database, Redis and the broker, the broker through the router's connection", async function () {
    const base = `http://127.0.0.1:${system!.httpPort}`;
    const ready = await readyz(base);
    expect(ready.status, JSON.stringify(ready.body)).to.equal(200);
    expect(ready.body.checks).to.have.keys('database', 'redis', 'broker');

    await broker!.close();
    broker = undefined;
    const lost = await readyzUntil(base, 503, 5_000);

    expect(lost.status).to.equal(503);
    expect(lost.body.error?.message).to.equal('not ready: broker unreachable');
    expect(lost.body.checks['broker']).to.deep.include({ ok: false, error: 'the MQTT connection is down' });
  });
});
