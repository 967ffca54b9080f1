import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { LocalPushService } from '../support/local-push-service.js';
import { obliterateQueues } from '../support/queues.js';
import { ServiceProcess } from '../support/service-process.js';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../support/test-databases.js';
import { TEST_JWT_SECRET } from '../support/tokens.js';
import {
  assertWholePath,
  listSubscriptions,
  openPush,
  postNotification,
  subscribeUser,
  waitForMessage,
  type Deployment,
} from '../support/whole-path.js';

const SERVICE_KEY = 'e2e-service-key-0123456789abcdef';
const ROUTER_KEY = 'e2e-router-key-0123456789abcdef';
const dist = (service: string) => join(process.cwd(), 'dist', 'services', service, 'main.js');

const commonEnv = {
  AUTH_JWT_SECRET: TEST_JWT_SECRET,
  API_KEYS: `e2e-producer:${SERVICE_KEY}:e2e,e2e-router:${ROUTER_KEY}:*:router`,
  PUSH_ALLOW_INSECURE_LOOPBACK: 'true',
  VAPID_SUBJECT: 'mailto:ops@axion-push.example',
  HTTP_HOST: '127.0.0.1',
  MQTT_HOST: '127.0.0.1',
  HTTP_PORT: '0',
  MQTT_PORT: '0',
  MQTT_WS_PORT: '0',
  PUSH_MAX_ATTEMPTS: '3',
  LOG_LEVEL: 'info',
};

describe('the whole path, all-in-one (npm start)', function () {
  this.timeout(60_000);
  let pushService: LocalPushService;
  let dataDir: string;
  let system: ServiceProcess;
  let deployment: Deployment;
  let wsPort: number;

  async function start(): Promise<void> {
    // No REDIS_URL and no DATABASE_URL: the embedded default, as on a fresh machine.
    system = new ServiceProcess(dist('all-in-one'), { ...commonEnv, DATA_DIR: dataDir });
    const ready = await system.waitForLog('axion-push ready');
    wsPort = Number(ready['mqttWsPort']);
    deployment = {
      httpBase: `http://127.0.0.1:${ready['httpPort']}`,
      mqttUrl: `mqtt://127.0.0.1:${ready['mqttPort']}`,
      serviceKey: SERVICE_KEY,
      pushService,
    };
  }

  before(async function () {
    pushService = await new LocalPushService().start();
    dataDir = mkdtempSync(join(tmpdir(), 'axion-e2e-'));
    await start();
  });

  after(async function () {
    await system?.stop();
    await pushService?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('delivers an HTTP notification to the dashboard and the browser, and retires a 410 endpoint', async function () {
    const subscriber = await subscribeUser(deployment);
    try {
      await assertWholePath(deployment, subscriber);
    } finally {
      await subscriber.dashboard.endAsync();
    }
    const metrics = await (await fetch(`${deployment.httpBase}/metrics`)).text();
    const origin = pushService.origin;
    expect(metrics).to.match(new RegExp(`axion_push_sends_total\\{origin="${origin}",outcome="sent"\\} [1-9]`));
    expect(metrics).to.match(new RegExp(`axion_push_sends_total\\{origin="${origin}",outcome="gone"\\} 1`));
    expect(metrics).to.contain('axion_push_queue_jobs{queue="push",state="waiting"}');
  });

  it('routes an event a producer publishes over MQTT the same way', async function () {
    const subscriber = await subscribeUser(deployment);
    const { connectAsync } = await import('mqtt');
    const producer = await connectAsync(deployment.mqttUrl, {
      clientId: `producer-${randomUUID()}`,
      username: 'e2e-producer',
      password: SERVICE_KEY,
    });
    try {
      // Refused events are logged and counted, and the router goes on.
      const topic = `axion/e2e/notify/user/${subscriber.user}`;
      await producer.publishAsync(topic, '{not json', { qos: 1 });
      await producer.publishAsync(topic, JSON.stringify({ title: 'big', data: { blob: 'x'.repeat(5000) } }), { qos: 1 });
      const id = `mqtt-${randomUUID()}`;
      await producer.publishAsync(
        `axion/e2e/notify/user/${subscriber.user}`,
        JSON.stringify({ id, title: 'From MQTT', delivery: 'always' }),
        { qos: 1 },
      );
      const message = await waitForMessage(subscriber, id);
      const [push] = await pushService.waitFor(subscriber.ok.path);
      expect(openPush(push!.body, subscriber.ok.keys)).to.deep.equal(message);
      expect(message.title).to.equal('From MQTT');
      const metrics = await (await fetch(`${deployment.httpBase}/metrics`)).text();
      expect(metrics).to.match(/axion_push_events_total\{source="mqtt",result="invalid_json"\} 1/);
      expect(metrics).to.match(/axion_push_events_total\{source="mqtt",result="too_large"\} 1/);
      expect(metrics).to.match(/axion_push_events_total\{source="mqtt",result="accepted"\} [1-9]/);
    } finally {
      await producer.endAsync();
      await subscriber.dashboard.endAsync();
    }
  });

  it('serves dashboards over MQTT on WebSocket at /mqtt', async function () {
    const subscriber = await subscribeUser(deployment);
    await subscriber.dashboard.endAsync();
    const { connectAsync } = await import('mqtt');
    const ws = await connectAsync(`ws://127.0.0.1:${wsPort}/mqtt`, {
      clientId: `ws-${randomUUID()}`,
      reconnectPeriod: 0,
      username: subscriber.user,
      password: subscriber.token,
    });
    try {
      const received = new Promise<string>((resolve) => ws.on('message', (_t, payload) => resolve(payload.toString())));
      await ws.subscribeAsync(`axion/e2e/push/${subscriber.user}`, { qos: 1 });
      const id = await postNotification(deployment, { package: 'e2e', target: { user: subscriber.user }, title: 'Over WebSocket', delivery: 'realtime' });
      expect(JSON.parse(await received)).to.include({ id, title: 'Over WebSocket', user: subscriber.user });
    } finally {
      await ws.endAsync();
    }
  });

  it('with the default delivery, sends Web Push only while no dashboard of the user is connected', async function () {
    const subscriber = await subscribeUser(deployment);
    const whileOnline = await postNotification(deployment, { package: 'e2e', target: { user: subscriber.user }, title: 'You are here' });
    await waitForMessage(subscriber, whileOnline);
    await subscriber.dashboard.endAsync();

    // Presence is written in the background; the broker removes the session on disconnect.
    await new Promise((r) => setTimeout(r, 300));
    const whileAway = await postNotification(deployment, { package: 'e2e', target: { user: subscriber.user }, title: 'While you were away' });
    const [push] = await pushService.waitFor(subscriber.ok.path);
    expect(openPush(push!.body, subscriber.ok.keys)).to.include({ id: whileAway, title: 'While you were away' });
    expect(pushService.requestsTo(subscriber.ok.path)).to.have.length(1);

    const status = (await (await fetch(`${deployment.httpBase}/v1/notifications/${whileOnline}`, {
      headers: { 'x-api-key': SERVICE_KEY },
    })).json()) as Record<string, number>;
    expect(status).to.include({ realtime: 1, pushQueued: 0, pushSkippedOnline: 1 });
  });

  it('fans an event for a group out to every member, over HTTP and over MQTT', async function () {
    const [ann, ben] = [await subscribeUser(deployment), await subscribeUser(deployment)];
    const group = `team-${randomUUID().slice(0, 8)}`;
    try {
      for (const member of [ann, ben]) {
        const res = await fetch(`${deployment.httpBase}/v1/groups/e2e/${group}/members/${member.user}`, {
          method: 'PUT',
          headers: { 'x-api-key': SERVICE_KEY },
        });
        expect(res.status).to.equal(201);
      }
      const overHttp = await postNotification(deployment, { package: 'e2e', target: { group }, title: 'Team news', delivery: 'always' });
      const { connectAsync } = await import('mqtt');
      const producer = await connectAsync(deployment.mqttUrl, { clientId: `p-${randomUUID()}`, username: 'e2e-producer', password: SERVICE_KEY });
      const overMqtt = `grp-${randomUUID()}`;
      await producer.publishAsync(`axion/e2e/notify/group/${group}`, JSON.stringify({ id: overMqtt, title: 'More news', delivery: 'always' }), { qos: 1 });
      await producer.endAsync();

      for (const member of [ann, ben]) {
        for (const id of [overHttp, overMqtt]) expect((await waitForMessage(member, id)).user).to.equal(member.user);
        const pushes = await pushService.waitFor(member.ok.path, 2);
        expect(pushes.map((p) => openPush(p.body, member.ok.keys).id)).to.have.members([overHttp, overMqtt]);
      }
    } finally {
      await Promise.all([ann.dashboard.endAsync(), ben.dashboard.endAsync()]);
    }
  });

  it('stops cleanly on SIGTERM, stops its private redis, and finds its data on the next start', async function () {
    const subscriber = await subscribeUser(deployment);
    await subscriber.dashboard.endAsync();
    const before = await listSubscriptions(deployment, subscriber);
    const vapidBefore = subscriber.vapidPublicKey;
    const redisPid = Number(readFileSync(join(dataDir, 'redis', 'redis.pid'), 'utf8'));

    expect(await system.stop()).to.equal(0);
    expect(existsSync(`/proc/${redisPid}`)).to.equal(false);

    await start();
    expect(await listSubscriptions(deployment, subscriber)).to.deep.equal(before);
    const vapid = (await (await fetch(`${deployment.httpBase}/v1/vapid/e2e`)).json()) as { publicKey: string };
    expect(vapid.publicKey).to.equal(vapidBefore);
  });

  it('refuses a second instance on the same data directory with a clear error', async function () {
    const second = new ServiceProcess(dist('all-in-one'), { ...commonEnv, DATA_DIR: dataDir });
    expect(await second.exited).to.equal(1);
    expect(second.output.join('\n')).to.contain('is using').and.to.contain('DATA_DIR');
  });
});

describe('the whole path, each service in its own process (MariaDB, shared Redis)', function () {
  this.timeout(60_000);
  const processes: ServiceProcess[] = [];
  let pushService: LocalPushService;
  let testDb: TestDatabase;
  const queuePrefix = `e2e${randomUUID().slice(0, 8)}`;

  after(async function () {
    for (const p of processes.reverse()) await p.stop();
    await pushService?.close();
    await testDb?.drop();
    await obliterateQueues(TEST_REDIS_URL, queuePrefix);
  });

  it('works the same with four processes started alone', async function () {
    pushService = await new LocalPushService().start();
    testDb = await createTestDatabase('mysql');
    const env = { ...commonEnv, DATABASE_URL: testDb.config.url, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: queuePrefix };

    const broker = new ServiceProcess(dist('broker'), env);
    processes.push(broker);
    const { tcpPort } = await broker.waitForLog('mqtt broker listening');
    const mqttUrl = `mqtt://127.0.0.1:${tcpPort}`;
    // Started together: the migration lock keeps them from migrating at the same time.
    const api = new ServiceProcess(dist('subscription-api'), env);
    const router = new ServiceProcess(dist('notify-router'), {
      ...env,
      MQTT_URL: mqttUrl,
      MQTT_USERNAME: 'e2e-router',
      MQTT_PASSWORD: ROUTER_KEY,
    });
    const worker = new ServiceProcess(dist('push-worker'), env);
    processes.push(api, router, worker);
    const [listening] = await Promise.all([
      api.waitForLog('http api listening'),
      router.waitForLog('notify-router started'),
      worker.waitForLog('push-worker started'),
    ]);

    const deployment = { httpBase: `http://127.0.0.1:${listening['port']}`, mqttUrl, serviceKey: SERVICE_KEY, pushService };
    const subscriber = await subscribeUser(deployment);
    try {
      await assertWholePath(deployment, subscriber);
    } finally {
      await subscriber.dashboard.endAsync();
    }
    for (const p of [api, router, worker, broker]) expect(await p.stop()).to.equal(0);
  });

  it('fails to start a service alone without a setting it needs, naming the variable', async function () {
    const worker = new ServiceProcess(dist('push-worker'), { ...commonEnv, REDIS_URL: '' });
    expect(await worker.exited).to.equal(1);
    expect(worker.output.join('\n')).to.contain('REDIS_URL');
  });
});
