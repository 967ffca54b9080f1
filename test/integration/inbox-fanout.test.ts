import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { connectAsync } from 'mqtt';
import {
  createGroupStore,
  createInboxStore,
  createNotificationStore,
  startDatabase,
  type Database,
  type InboxEntry,
  type InboxStore,
} from '../../shared/database/index.js';
import { createDeliveryStatus } from '../../shared/delivery-status/index.js';
import { routeJobSchema, type RouteJob } from '../../shared/events/index.js';
import { createPresenceReader } from '../../shared/presence/index.js';
import { connectRedis, createPushQueue, type PushQueue } from '../../shared/queue/index.js';
import { createTopics } from '../../shared/topics/index.js';
import { createInboxWriter } from '../../services/notify-router/inbox-writer.js';
import { startMqttPublisher, type RealtimePublisher } from '../../services/notify-router/realtime-publisher.js';
import { createTargetResolver, ROUTE_BATCH_USERS } from '../../services/notify-router/resolve-target.js';
import { routeEvent, type RouteEventDeps } from '../../services/notify-router/route-event.js';
import { obliterateQueues } from '../support/queues.js';
import { testLogger } from '../support/silent-logger.js';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../support/test-databases.js';

const REPORT = join(process.cwd(), 'test-results', 'inbox-fanout.json');

describe('routing a group into inboxes (aedes, MariaDB, Redis)', function () {
  this.timeout(300_000);
  const log = testLogger();
  const topics = createTopics('axion');
  let testDb: TestDatabase;
  let database: Database;
  let broker: Aedes;
  let server: Server;
  let mqttUrl: string;
  let redis: Redis;
  let prefix: string;
  let realtime: RealtimePublisher;
  let pushQueue: PushQueue;
  let store: InboxStore;
  /** Every call routing made to the inbox store's insert, by size. */
  let inserts: number[];

  before(async function () {
    testDb = await createTestDatabase('mysql');
    database = await startDatabase(testDb.config, log);
    broker = await Aedes.createBroker();
    server = createServer(broker.handle);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    mqttUrl = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async function () {
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
    server?.close();
    await database?.close();
    await testDb?.drop();
  });
  beforeEach(async function () {
    prefix = `test-${randomUUID()}`;
    redis = connectRedis(TEST_REDIS_URL, { log, role: 'test' });
    realtime = await startMqttPublisher({ url: mqttUrl, username: undefined, password: undefined, topicRoot: 'axion' }, log);
    pushQueue = createPushQueue({ connection: redis, prefix, log });
    const real = createInboxStore(database.dataSource);
    inserts = [];
    // The real store; its inserts are counted on the way through.
    store = { ...real, add: (entries: readonly InboxEntry[], at: Date) => (inserts.push(entries.length), real.add(entries, at)) };
  });
  afterEach(async function () {
    await realtime.close();
    await pushQueue.close();
    await obliterateQueues(redis, prefix);
    await redis.quit();
  });

  function deps(): RouteEventDeps {
    return {
      realtime,
      inbox: createInboxWriter({ inbox: store, realtime, topics }),
      resolveTarget: createTargetResolver(createGroupStore(database.dataSource)),
      presence: createPresenceReader(redis, prefix),
      status: createDeliveryStatus(redis, prefix),
      pushQueue,
      topics,
      log,
    };
  }

  /** A group of `size` members, put in place with multi-row inserts, and an event to it. */
  async function groupEvent(size: number): Promise<{ pkg: string; job: RouteJob; users: string[] }> {
    const pkg = `pkg-${randomUUID().slice(0, 8)}`;
    const users = Array.from({ length: size }, (_, i) => `member-${String(i).padStart(6, '0')}`);
    const createdAt = new Date();
    for (let i = 0; i < users.length; i += 2_000) {
      const chunk = users.slice(i, i + 2_000);
      await database.dataSource.query(
        `INSERT INTO group_member (package, group_name, user, created_at) VALUES ${chunk.map(() => '(?, ?, ?, ?)').join(', ')}`,
        chunk.flatMap((user) => [pkg, 'everyone', user, createdAt]),
      );
    }
    const job = routeJobSchema.parse({
      id: `evt-${randomUUID()}`, package: pkg, target: { group: 'everyone' }, source: 'http',
      acceptedAt: new Date().toISOString(), event: { title: 'Quarter closed', delivery: 'realtime' },
    });
    await createNotificationStore(database.dataSource).record(job);
    return { pkg, job, users };
  }

  async function itemsOf(pkg: string): Promise<number> {
    const [row] = (await database.dataSource.query('SELECT COUNT(*) AS n FROM inbox_item WHERE package = ?', [pkg])) as { n: unknown }[];
    return Number(row!.n);
  }

  it('gives each of 100,000 members one item, one insert per batch of 1,000 (time and memory in test-results/inbox-fanout.json)', async function () {
    const { pkg, job, users } = await groupEvent(100_000);
    const dashboard = await connectAsync(mqttUrl, { clientId: `dash-${randomUUID()}`, reconnectPeriod: 0 });
    const counts: number[] = [];
    dashboard.on('message', (_t, payload) => {
      const message = JSON.parse(payload.toString()) as { type?: string; count?: number };
      if (message.type === 'unseen') counts.push(message.count!);
    });
    await dashboard.subscribeAsync(topics.push(pkg, users[54_321]!), { qos: 1 });
    global.gc?.();
    const baseline = process.memoryUsage();
    let peakHeap = baseline.heapUsed;
    let peakRss = baseline.rss;
    const sampler = setInterval(() => {
      const now = process.memoryUsage();
      peakHeap = Math.max(peakHeap, now.heapUsed);
      peakRss = Math.max(peakRss, now.rss);
    }, 10);
    const started = Date.now();

    try {
      await routeEvent(deps(), job);
    } finally {
      clearInterval(sampler);
    }
    const routedMs = Date.now() - started;
    await dashboard.endAsync();

    expect(inserts).to.have.length(100_000 / ROUTE_BATCH_USERS);
    expect(Math.max(...inserts)).to.equal(ROUTE_BATCH_USERS);
    expect(await itemsOf(pkg)).to.equal(100_000);
    expect(counts).to.deep.equal([1]);
    const report = {
      members: 100_000,
      insertStatements: inserts.length,
      routedSeconds: routedMs / 1000,
      heapGrowthMiB: Math.round((peakHeap - baseline.heapUsed) / 2 ** 20),
      rssGrowthMiB: Math.round((peakRss - baseline.rss) / 2 ** 20),
      note: 'the Message and the unseen count published to each member (200,000 QoS 1 publishes to an in-process aedes), one item each',
    };
    mkdirSync(join(process.cwd(), 'test-results'), { recursive: true });
    // Measured, not asserted: the whole process (broker and MQTT buffers included) on a shared,
    // loaded machine. What bounds memory is asserted above: no insert holds more than a batch.
    writeFileSync(REPORT, `${JSON.stringify(report, null, 2)}\n`);
  });

  it('routes an event again without a second item, and publishes the same exact counts', async function () {
    const { pkg, job, users } = await groupEvent(2_500);
    const watched = users[2_400]!;
    const dashboard = await connectAsync(mqttUrl, { clientId: `dash-${randomUUID()}`, reconnectPeriod: 0 });
    const counts: number[] = [];
    dashboard.on('message', (_t, payload) => {
      const message = JSON.parse(payload.toString()) as { type?: string; count?: number };
      if (message.type === 'unseen') counts.push(message.count!);
    });
    await dashboard.subscribeAsync(topics.push(pkg, watched), { qos: 1 });

    await routeEvent(deps(), job);
    await routeEvent(deps(), job);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await dashboard.endAsync();

    expect(inserts).to.deep.equal([1_000, 1_000, 500, 1_000, 1_000, 500]);
    expect(await itemsOf(pkg)).to.equal(2_500);
    expect(counts).to.deep.equal([1, 1]);
    expect(await store.countUnseen(pkg, [users[0]!, watched])).to.deep.equal(new Map([[users[0]!, 1], [watched, 1]]));
  });
});
