import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createSubscriptionStore, createVapidKeyStore, startDatabase } from '../../shared/database/index.js';
import { CountingPushService } from '../support/counting-push-service.js';
import { distMain, Fleet } from '../support/fleet.js';
import { ServiceProcess } from '../support/service-process.js';
import { testLogger } from '../support/silent-logger.js';
import { createTestDatabase } from '../support/test-databases.js';
import { TEST_JWT_SECRET, userToken } from '../support/tokens.js';
import { createBrowserKeys } from '../support/web-push-receiver.js';

const PKG = 'e2e';
const PRODUCER_KEY = `stop-producer-${randomUUID()}`;
const ROUTER_KEY = `stop-router-${randomUUID()}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One subscription per user, `count` users, stored as the API would store them. */
async function seedSubscriptions(databaseUrl: string, pushService: CountingPushService, count: number): Promise<string[]> {
  const database = await startDatabase({ url: databaseUrl }, testLogger());
  try {
    const key = await createVapidKeyStore(database.dataSource).current(PKG);
    const store = createSubscriptionStore(database.dataSource);
    const users = Array.from({ length: count }, (_, i) => `stop-user-${i}`);
    for (const user of users) {
      const keys = createBrowserKeys();
      await store.upsert({
        user, package: PKG, endpoint: pushService.endpoint(`/push/${user}`), p256dh: keys.p256dh, auth: keys.auth,
        module: null, userAgent: null, expirationTime: null, vapidKeyId: key.id,
      });
    }
    return users;
  } finally {
    await database.close();
  }
}

async function call(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', 'x-api-key': PRODUCER_KEY },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** The notification's status once every push job has ended (or the last one seen). */
async function finalStatus(base: string, id: string, users: number, timeoutMs = 30_000): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await call(base, 'GET', `/v1/notifications/${id}`);
    if (body.pushDone === users || Date.now() > deadline) return body;
    await sleep(200);
  }
}

/** Sends per endpoint path so far. */
const counts = (pushService: CountingPushService) =>
  Object.fromEntries([...pushService.byPath].map(([path, requests]) => [path, requests.length]));

describe('the push-worker stopped with SIGTERM while sends are in flight', function () {
  this.timeout(120_000);
  let fleet: Fleet;
  let pushService: CountingPushService;
  let env: Record<string, string>;
  let httpBase: string;
  let users: string[];

  async function startSystem(answerDelayMs: number, subscriptions: number): Promise<void> {
    fleet = new Fleet();
    pushService = await new CountingPushService(answerDelayMs).start();
    fleet.database = await createTestDatabase('mysql');
    users = await seedSubscriptions(fleet.database.config.url, pushService, subscriptions);
    env = {
      ...fleet.env({ producer: PRODUCER_KEY, router: ROUTER_KEY }),
      API_KEYS: `producer:${PRODUCER_KEY}:${PKG},router:${ROUTER_KEY}:*:router`,
      HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', PUSH_ALLOW_INSECURE_LOOPBACK: 'true',
      PUSH_CONCURRENCY: '4', PUSH_JOB_LOCK_MS: '3000', LOG_LEVEL: 'info',
    };
    const broker = fleet.start('broker', env);
    const { tcpPort } = await broker.waitForLog('mqtt broker listening');
    const api = fleet.start('subscription-api', env);
    const router = fleet.start('notify-router', {
      ...env, MQTT_URL: `mqtt://127.0.0.1:${tcpPort}`, MQTT_USERNAME: 'router', MQTT_PASSWORD: ROUTER_KEY,
    });
    const [listening] = await Promise.all([api.waitForLog('http api listening'), router.waitForLog('notify-router started')]);
    httpBase = `http://127.0.0.1:${listening['port']}`;
  }

  async function notifyAll(): Promise<string> {
    const posted = await call(httpBase, 'POST', '/v1/notifications', {
      package: PKG, target: { users }, title: 'Invoice paid', ttl: 600, delivery: 'always',
    });
    expect(posted.status, JSON.stringify(posted.body)).to.equal(202);
    return posted.body.id as string;
  }

  afterEach(async function () {
    await fleet?.close();
    await pushService?.close();
  });

  it('finishes the sends it holds, exits 0, and a restarted worker sends nothing again', async function () {
    // 12 sends, 4 at a time, each answered after 1.5 s: the job takes about 4.5 s.
    await startSystem(1_500, 12);
    const worker = fleet.start('push-worker', env);
    await worker.waitForLog('push-worker started');
    const id = await notifyAll();
    await pushService.waitForReached(1, 20_000);

    const stopping = performance.now();
    const code = await worker.stop(30_000);
    const stoppedAfterMs = performance.now() - stopping;

    expect(code).to.equal(0);
    // Every send was made, and its answer read, before the worker exited.
    expect(pushService.reached).to.equal(users.length);
    for (const requests of pushService.byPath.values()) expect(requests[0]!.answeredAt).to.be.a('number');
    const done = worker.lines.findIndex((l) => l.msg === 'push job attempt done');
    expect(done, 'the job ended before the worker stopped').to.be.above(-1);
    expect(done).to.be.below(worker.lines.findIndex((l) => l.msg === 'stopped'));
    expect(stoppedAfterMs).to.be.below(20_000);

    const restarted = fleet.start('push-worker', env);
    await restarted.waitForLog('push-worker started');
    // Longer than a lock and a stalled check: a job the first worker had not finished would be
    // resumed by now.
    await sleep(7_000);
    expect(Object.values(counts(pushService)).every((n) => n === 1), JSON.stringify(counts(pushService))).to.equal(true);
    expect(await finalStatus(httpBase, id, users.length)).to.include({ pushDone: users.length, sent: users.length, pending: 0, failed: 0 });
  });

  it('past PUSH_SHUTDOWN_TIMEOUT_MS lets go of what it holds and exits 0; the next worker completes it', async function () {
    // 8 sends, 4 at a time, each answered after 6 s, and one second to finish them: too short.
    await startSystem(6_000, 8);
    const worker = fleet.start('push-worker', { ...env, PUSH_SHUTDOWN_TIMEOUT_MS: '1000' });
    await worker.waitForLog('push-worker started');
    const id = await notifyAll();
    await pushService.waitForReached(4, 20_000);
    const inFlight = new Set(pushService.byPath.keys());

    const stopping = performance.now();
    const code = await worker.stop(30_000);
    const stoppedAfterMs = performance.now() - stopping;

    expect(code).to.equal(0);
    expect(stoppedAfterMs, 'bounded by the shutdown timeout, not by the push service').to.be.below(5_000);
    expect(worker.lines.some((l) => l.msg === 'push jobs still running at the shutdown deadline; left for another worker')).to.equal(true);

    const restarted = fleet.start('push-worker', env);
    await restarted.waitForLog('push-worker started');
    await pushService.waitForReached(users.length, 40_000);
    const status = await finalStatus(httpBase, id, users.length, 40_000);
    expect(status).to.include({ pushDone: users.length, sent: users.length, pending: 0 });
    // Only a send whose answer the stopped worker never read may be made again, once.
    for (const [path, n] of Object.entries(counts(pushService))) {
      expect(n, path).to.be.at.most(inFlight.has(path) ? 2 : 1);
    }
  });
});

describe('npm start (all-in-one) stopped with SIGTERM while sends are in flight', function () {
  this.timeout(120_000);
  let dataDir: string;
  let pushService: CountingPushService;
  const processes: ServiceProcess[] = [];

  before(async function () {
    dataDir = mkdtempSync(join(tmpdir(), 'axion-stop-'));
    // 6 sends, 2 at a time, each answered after 1.5 s: about 4.5 s.
    pushService = await new CountingPushService(1_500).start();
  });
  after(async function () {
    for (const p of processes) await p.stop();
    await pushService?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const start = async () => {
    const system = new ServiceProcess(distMain('all-in-one'), {
      DATA_DIR: dataDir, LOG_FORMAT: 'json', HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', MQTT_HOST: '127.0.0.1',
      MQTT_PORT: '0', MQTT_WS_PORT: '0', AUTH_JWT_SECRET: TEST_JWT_SECRET, API_KEYS: `producer:${PRODUCER_KEY}:${PKG}`,
      PUSH_ALLOW_INSECURE_LOOPBACK: 'true', PUSH_CONCURRENCY: '2', PUSH_JOB_LOCK_MS: '3000',
    });
    processes.push(system);
    const ready = await system.waitForLog('axion-push ready');
    return { system, base: `http://127.0.0.1:${ready['httpPort']}` };
  };

  it('finishes the sends under way, closes everything, exits 0, and sends nothing twice after the next start', async function () {
    const { system, base } = await start();
    const user = `stop-${randomUUID().slice(0, 8)}`;
    const token = await userToken(user, [PKG]);
    for (let i = 0; i < 6; i++) {
      const keys = createBrowserKeys();
      const res = await fetch(`${base}/v1/subscriptions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ package: PKG, endpoint: pushService.endpoint(`/push/${user}/${i}`), keys: { p256dh: keys.p256dh, auth: keys.auth } }),
      });
      expect(res.status).to.equal(201);
    }
    const posted = await call(base, 'POST', '/v1/notifications', { package: PKG, target: { user }, title: 'Bye', delivery: 'always' });
    expect(posted.status).to.equal(202);
    await pushService.waitForReached(1, 20_000);
    // One process, one set of probes: the API's /readyz checks the router's broker connection too.
    const readyz = await fetch(`${base}/readyz`);
    expect(readyz.status).to.equal(200);
    expect(((await readyz.json()) as { checks: object }).checks).to.have.keys('database', 'redis', 'broker');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).to.match(/axion_push_jobs_total\{queue="route",outcome="completed"\} 1/);
    expect(metrics).to.match(/axion_push_mqtt_clients_connected [2-9]/);

    expect(await system.stop(30_000)).to.equal(0);

    expect(pushService.reached).to.equal(6);
    for (const requests of pushService.byPath.values()) expect(requests[0]!.answeredAt).to.be.a('number');
    const order = ['push job attempt done', 'stopped'].map((msg) => system.lines.findIndex((l) => l.msg === msg));
    expect(order[0]).to.be.above(-1);
    expect(order[0]).to.be.below(order[1]!);

    const again = await start();
    await sleep(7_000);
    expect(Object.values(counts(pushService)).every((n) => n === 1), JSON.stringify(counts(pushService))).to.equal(true);
    expect(await finalStatus(again.base, posted.body.id as string, 1)).to.include({ pushDone: 1, sent: 6, pending: 0 });
    expect(await again.system.stop()).to.equal(0);
  });
});
