import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { Queue } from 'bullmq';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { connectAsync, type MqttClient } from 'mqtt';
import { createRedeliveryIds } from '../../services/notify-router/accept-mqtt-event.js';
import { createEventRecorder } from '../../services/notify-router/event-recorder.js';
import { createInboxWriter } from '../../services/notify-router/inbox-writer.js';
import { startMqttIntake, type MqttIntake } from '../../services/notify-router/mqtt-intake.js';
import { startMqttPublisher, type RealtimePublisher } from '../../services/notify-router/realtime-publisher.js';
import {
  createInboxStore,
  createNotificationStore,
  startDatabase,
  type Database,
  type NotificationStore,
} from '../../shared/database/index.js';
import { createDeliveryStatus } from '../../shared/delivery-status/index.js';
import type { Message, UnseenMessage } from '../../shared/events/index.js';
import { createRouteQueue, type RouteQueue } from '../../shared/queue/index.js';
import { createTopics, QUEUE_NAMES, routeJobId } from '../../shared/topics/index.js';
import { obliterateQueues } from '../support/queues.js';
import { testLogger } from '../support/silent-logger.js';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../support/test-databases.js';
import { until } from '../support/until.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The real store, behind a switch that makes it fail as a database that is down does. */
function switchable(store: NotificationStore) {
  let down = false;
  const guard = () => {
    if (down) throw new Error('database is down (test)');
  };
  return {
    set down(value: boolean) {
      down = value;
    },
    store: {
      record: (job) => (guard(), store.record(job)),
      recordMany: async (jobs) => (guard(), store.recordMany(jobs)),
      get: (id) => store.get(id),
    } satisfies NotificationStore,
  };
}

describe('the MQTT intake (aedes, MariaDB, Redis)', function () {
  this.timeout(30_000);
  const topics = createTopics('axion');
  const log = testLogger();
  let testDb: TestDatabase;
  let database: Database;
  let broker: Aedes;
  let server: Server;
  let url: string;
  let redis: Redis;
  let prefix: string;
  let routeQueue: RouteQueue;
  let realtime: RealtimePublisher;
  let db: ReturnType<typeof switchable>;
  const open: { close(): Promise<unknown> }[] = [];
  const clients: MqttClient[] = [];

  before(async function () {
    testDb = await createTestDatabase('mysql');
    database = await startDatabase(testDb.config, log);
  });

  after(async function () {
    await database?.close();
    await testDb?.drop();
  });

  beforeEach(async function () {
    broker = await Aedes.createBroker();
    server = createServer(broker.handle);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    prefix = `test-${randomUUID()}`;
    routeQueue = createRouteQueue({ connection: redis, prefix, log });
    realtime = await startMqttPublisher({ url, username: undefined, password: undefined, topicRoot: 'axion' }, log);
    db = switchable(createNotificationStore(database.dataSource));
  });

  afterEach(async function () {
    for (const client of clients.splice(0)) await client.endAsync(true);
    for (const part of open.splice(0).reverse()) await part.close();
    await realtime.close();
    await routeQueue.close();
    await obliterateQueues(redis, prefix);
    await redis.quit();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    server.close();
  });

  async function startIntake(options: { maxInHand?: number } = {}): Promise<MqttIntake & { results: string[] }> {
    const results: string[] = [];
    const status = createDeliveryStatus(redis, prefix);
    const deps = {
      topics,
      notifications: db.store,
      routeQueue,
      realtime,
      recorder: createEventRecorder({
        notifications: db.store,
        routeQueue,
        status,
        inbox: createInboxWriter({ inbox: createInboxStore(database.dataSource), realtime, topics }),
        log,
      }),
      redeliveries: createRedeliveryIds(redis, prefix),
      log,
    };
    const intake = await startMqttIntake({ url, username: undefined, password: undefined, topicRoot: 'axion' }, deps, log, {
      ...options,
      observe: (result) => results.push(result),
    });
    open.push(intake);
    return Object.assign(intake, { results });
  }

  async function client(): Promise<MqttClient> {
    const c = await connectAsync(url, { clientId: `test-${randomUUID()}`, reconnectPeriod: 0 });
    clients.push(c);
    return c;
  }

  async function dashboard(user: string): Promise<Message[]> {
    const received: Message[] = [];
    const c = await client();
    c.on('message', (_topic, payload) => {
      const message = JSON.parse(payload.toString()) as Message | UnseenMessage;
      // Messages only: the inbox's unseen counts follow them once the events are stored.
      if (!('type' in message)) received.push(message);
    });
    await c.subscribeAsync(topics.push('crm', user), { qos: 1 });
    return received;
  }

  const rowCount = async (ids: string[]) => (await Promise.all(ids.map((id) => db.store.get(id)))).filter(Boolean).length;

  it('publishes to the user before the event is stored, reads on while events wait, and stores them once the database is back', async function () {
    const received = await dashboard('alice');
    const intake = await startIntake();
    const producer = await client();
    db.down = true;

    const ids = Array.from({ length: 50 }, () => randomUUID());
    for (const [i, id] of ids.entries()) {
      await producer.publishAsync(topics.notifyUser('crm', 'alice'), JSON.stringify({ id, title: `t${i}`, delivery: 'realtime' }), { qos: 1 });
    }
    await until(() => received.length === 50, 'every event reached the dashboard');
    expect(received.map((m) => m.id)).to.deep.equal(ids);
    expect(await rowCount(ids)).to.equal(0);
    expect(intake.results).to.deep.equal([]);

    db.down = false;
    await until(() => intake.results.length === 50, 'every event was stored', 10_000);
    expect(intake.results).to.deep.equal(Array(50).fill('accepted'));
    expect(await rowCount(ids)).to.equal(50);
    // Never routed, yet in the inbox: the group commit put them there.
    expect((await createInboxStore(database.dataSource).countUnseen('crm', ['alice'])).get('alice')).to.equal(50);
    // Realtime-only and published: nothing left to route, and the status says so.
    const status = createDeliveryStatus(redis, prefix);
    expect((await status.get(ids[0]!)).realtime).to.equal(1);
    expect(await new Queue(QUEUE_NAMES.route, { connection: redis, prefix }).count()).to.equal(0);
  });

  it('stops reading when the events in hand reach the limit, and goes on when they are stored', async function () {
    const received = await dashboard('bob');
    const intake = await startIntake({ maxInHand: 10 });
    const producer = await client();
    db.down = true;

    for (let i = 0; i < 30; i++) {
      await producer.publishAsync(topics.notifyUser('crm', 'bob'), JSON.stringify({ title: `t${i}`, delivery: 'realtime' }), { qos: 1 });
    }
    await until(() => received.length >= 10, 'ten events reached the dashboard');
    await sleep(500);
    expect(received).to.have.length(10);

    db.down = false;
    await until(() => received.length === 30 && intake.results.length === 30, 'every event was taken', 10_000);
    expect(received.map((m) => m.title)).to.deep.equal(Array.from({ length: 30 }, (_, i) => `t${i}`));
  });

  it('leaves an event it could not store to the broker; the next intake stores it under the same id without publishing it again', async function () {
    const received = await dashboard('carol');
    const first = await startIntake();
    const producer = await client();
    db.down = true;
    await producer.publishAsync(topics.notifyUser('crm', 'carol'), JSON.stringify({ title: 'no id given', delivery: 'always' }), { qos: 1 });
    await until(() => received.length === 1, 'the event reached the dashboard');
    const { id } = received[0]!;
    await first.close();
    open.splice(open.indexOf(first), 1);

    db.down = false;
    const second = await startIntake();
    await until(() => second.results.length === 1, 'the redelivered event was taken');
    expect(second.results).to.deep.equal(['accepted']);
    await sleep(300);
    expect(received.map((m) => m.id)).to.deep.equal([id]);
    expect(await db.store.get(id)).to.not.equal(null);
    // Web Push may follow: routed, marked as already published.
    const job = await new Queue(QUEUE_NAMES.route, { connection: redis, prefix }).getJob(routeJobId(id));
    expect(job?.data).to.include({ id, realtimePublished: true });
  });

  it('after a reconnect with events in hand, publishes and stores each once and acknowledges each only once stored', async function () {
    const received = await dashboard('erin');
    const intake = await startIntake();
    const producer = await client();
    db.down = true;
    for (let i = 0; i < 5; i++) {
      await producer.publishAsync(topics.notifyUser('crm', 'erin'), JSON.stringify({ title: `t${i}`, delivery: 'realtime' }), { qos: 1 });
    }
    await until(() => received.length === 5, 'every event reached the dashboard');
    const session = () => (broker as unknown as { clients: Record<string, { conn: { destroy(): void } } | undefined> }).clients[topics.routerClientId];
    const cut = async () => {
      const before = session()!;
      before.conn.destroy();
      await until(() => session() !== undefined && session() !== before, 'the intake reconnected', 10_000);
      await sleep(300);
    };

    // The broker sends the five again on the new connection, while the first deliveries wait.
    await cut();
    let acks = 0;
    const countAck = (_packet: unknown, client: { id: string } | null) => {
      if (client?.id === topics.routerClientId) acks += 1;
    };
    broker.on('ack', countAck);
    db.down = false;
    await until(() => intake.results.length === 5, 'the events were stored', 10_000);
    // The PUBACKs leave once the commit is done: the broker must have them before the next cut
    // (on a loaded machine they took longer than the result did, and the five came again).
    await until(() => acks >= 5, 'the broker had the acknowledgements', 10_000);
    // Acknowledged: nothing comes again.
    await cut();

    broker.off('ack', countAck);

    expect(intake.results).to.deep.equal(Array(5).fill('accepted'));
    expect(received.map((m) => m.title)).to.deep.equal(['t0', 't1', 't2', 't3', 't4']);
    expect(await rowCount(received.map((m) => m.id))).to.equal(5);
  });

  it('refuses an event too large for one Web Push record without publishing it', async function () {
    const received = await dashboard('dave');
    const intake = await startIntake();
    const producer = await client();
    await producer.publishAsync(topics.notifyUser('crm', 'dave'), JSON.stringify({ title: 'big', data: { blob: 'x'.repeat(4_000) } }), { qos: 1 });
    await producer.publishAsync(topics.notifyUser('crm', 'dave'), JSON.stringify({ title: 'small', delivery: 'realtime' }), { qos: 1 });
    await until(() => intake.results.length === 2, 'both events were taken');
    expect(intake.results).to.deep.equal(['too_large', 'accepted']);
    expect(received.map((m) => m.title)).to.deep.equal(['small']);
  });
});
