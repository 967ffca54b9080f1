import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { Queue } from 'bullmq';
import { expect } from 'chai';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { connectAsync, type MqttClient } from 'mqtt';
import { createRedeliveryIds } from '../../services/notify-router/accept-mqtt-event.js';
import { createEventRecorder } from '../../services/notify-router/event-recorder.js';
import { createInboxWriter } from '../../services/notify-router/inbox-writer.js';
import { startMqttIntake, type MqttIntake } from '../../services/notify-router/mqtt-intake.js';
import { startMqttPublisher, type RealtimePublisher } from '../../services/notify-router/realtime-publisher.js';
import { createInboxStore, createNotificationStore, startDatabase, type Database } from '../../shared/database/index.js';
import { createDeliveryStatus } from '../../shared/delivery-status/index.js';
import type { Message } from '../../shared/events/index.js';
import { createRouteQueue, type RouteQueue } from '../../shared/queue/index.js';
import { createTopics, QUEUE_NAMES } from '../../shared/topics/index.js';
import { deepInData, nesting, oddText, withBadBytes, wrongValue } from '../support/garbage.js';
import { obliterateQueues } from '../support/queues.js';
import { testLogger } from '../support/silent-logger.js';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../support/test-databases.js';
import { until } from '../support/until.js';

const validEvent = { title: 'Invoice paid', body: 'Thanks', data: { invoice: 42 }, delivery: 'always' };

/** Payloads from almost an event to nothing like JSON. */
const payloads: fc.Arbitrary<Buffer> = fc.oneof(
  fc.record({ field: fc.constantFrom('title', 'body', 'data', 'ttl', 'urgency', 'delivery', 'sendAt', 'id', 'url', 'topic', 'extra'), value: wrongValue })
    .map(({ field, value }) => Buffer.from(JSON.stringify({ ...validEvent, [field]: value }))),
  fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v))),
  fc.integer({ min: 33, max: 60_000 }).map((depth) => deepInData(validEvent, depth)),
  fc.integer({ min: 33, max: 60_000 }).map((depth) => Buffer.from(nesting(depth))),
  fc.integer({ min: 100_000, max: 1_000_000 }).map((n) => Buffer.from(JSON.stringify({ ...validEvent, title: 'x'.repeat(n) }))),
  withBadBytes(JSON.stringify({ title: '@' })),
  fc.uint8Array({ maxLength: 2_000 }).map((bytes) => Buffer.from(bytes)),
  fc.constant(Buffer.alloc(0)),
);

/**
 * A level with no MQTT wildcard, slash, NUL or control character (brokers refuse those in a
 * publish), valid as a name or not.
 */
const level = fc.oneof(
  fc.constantFrom('crm', 'alice', 'sales'),
  fc.string({ unit: 'grapheme', maxLength: 20 }).map((s) => s.replace(/[+#/\u0000-\u001f\u007f-\u009f]/g, '_')),
  fc.integer({ min: 129, max: 400 }).map((n) => 'a'.repeat(n)),
);

/** Every one reaches the router (it subscribes to `<root>/+/notify/#`). */
function notifyTopics(root: string): fc.Arbitrary<string> {
  const name = fc.constantFrom('crm', 'alice', 'sales', 'a.b@c-d_e');
  const valid = fc.oneof(
    fc.tuple(name, name).map(([pkg, user]) => `${root}/${pkg}/notify/user/${user}`),
    fc.tuple(name, name).map(([pkg, group]) => `${root}/${pkg}/notify/group/${group}`),
    name.map((pkg) => `${root}/${pkg}/notify/all`),
  );
  // Half reach the payload checks; most of the other half are refused for the topic alone.
  return fc.oneof(valid, fc.oneof(
    fc.tuple(level, level).map(([pkg, user]) => `${root}/${pkg}/notify/user/${user}`),
    fc.tuple(level, level).map(([pkg, group]) => `${root}/${pkg}/notify/group/${group}`),
    level.map((pkg) => `${root}/${pkg}/notify/all`),
    fc.tuple(level, fc.constantFrom('', 'user', 'user/', 'all/extra', 'user/a/b', 'unknown/x', 'group//x')).map(
      ([pkg, tail]) => `${root}/${pkg}/notify${tail ? `/${tail}` : ''}`,
    ),
  ));
}

/** An MQTT broker the test's clients and the router connect to. */
interface TestBroker {
  url: string;
  /** Whether a QoS 1 publish with an empty topic level reaches a persistent session intact. */
  emptyLevels: boolean;
  close(): Promise<void>;
}

async function startAedes(): Promise<TestBroker> {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`,
    // aedes 1.2 delivers it but cannot record it in the session's outgoing queue ("no such
    // packet") and drops the subscriber. Our broker's ACL refuses such a publish before that.
    emptyLevels: false,
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      server.close();
    },
  };
}

/** The machine's Mosquitto (anonymous on loopback here): an external broker passes every topic on. */
const MOSQUITTO_URL = process.env['MOSQUITTO_URL'] ?? 'mqtt://127.0.0.1:1883';

const BROKERS: [string, () => Promise<TestBroker>][] = [
  ['aedes', startAedes],
  ['Mosquitto', async () => ({ url: MOSQUITTO_URL, emptyLevels: true, close: async () => undefined })],
];

for (const [brokerName, startBroker] of BROKERS) describe(`bad input on the MQTT intake (fast-check; ${brokerName}, MariaDB, Redis)`, function () {
  this.timeout(120_000);
  const log = testLogger();
  // A root of its own: the router's session (client id `<root>-notify-router`) and every topic
  // stay apart from other tests on a shared broker.
  const root = `fuzz${randomUUID().slice(0, 8)}`;
  const names = createTopics(root);
  let testDb: TestDatabase;
  let database: Database;
  let broker: TestBroker;
  let redis: Redis;
  let prefix: string;
  let routeQueue: RouteQueue;
  let realtime: RealtimePublisher;
  let intake: MqttIntake;
  let producer: MqttClient;
  let dashboard: MqttClient;
  const results: string[] = [];
  const received: Message[] = [];

  before(async function () {
    testDb = await createTestDatabase('mysql');
    database = await startDatabase(testDb.config, log);
    broker = await startBroker();
    const url = broker.url;
    const mqttConfig = { url, username: undefined, password: undefined, topicRoot: root };
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    prefix = `test-${randomUUID()}`;
    routeQueue = createRouteQueue({ connection: redis, prefix, log });
    realtime = await startMqttPublisher(mqttConfig, log);
    const notifications = createNotificationStore(database.dataSource);
    const status = createDeliveryStatus(redis, prefix);
    intake = await startMqttIntake(
      mqttConfig,
      {
        topics: names,
        notifications,
        routeQueue,
        realtime,
        recorder: createEventRecorder({
          notifications,
          routeQueue,
          status,
          inbox: createInboxWriter({ inbox: createInboxStore(database.dataSource), realtime, topics: names }),
          log,
        }),
        redeliveries: createRedeliveryIds(redis, prefix),
        log,
      },
      log,
      { observe: (result) => results.push(result) },
    );
    producer = await connectAsync(url, { clientId: `test-${randomUUID()}`, reconnectPeriod: 0 });
    dashboard = await connectAsync(url, { clientId: `test-${randomUUID()}`, reconnectPeriod: 0 });
    dashboard.on('message', (_topic, payload) => received.push(JSON.parse(payload.toString()) as Message));
    await dashboard.subscribeAsync(names.push('crm', 'alice'), { qos: 1 });
  });

  after(async function () {
    await producer?.endAsync(true);
    await dashboard?.endAsync(true);
    await intake?.close();
    await realtime?.close();
    await routeQueue?.close();
    if (redis) {
      await obliterateQueues(redis, prefix);
      await redis.quit();
    }
    await broker?.close();
    await database?.close();
    await testDb?.drop();
  });

  const storedEvents = async () =>
    Number(((await database.dataSource.query('SELECT COUNT(*) AS n FROM notification')) as { n: unknown }[])[0]!.n);
  const queuedJobs = async () => {
    const queue = new Queue(QUEUE_NAMES.route, { connection: redis, prefix });
    try {
      return Object.values(await queue.getJobCounts()).reduce((a, b) => a + b, 0);
    } finally {
      await queue.close();
    }
  };

  const garbage = fc.record({
    topic: notifyTopics(root).filter((topic) => broker.emptyLevels || !/\/\/|\/$/.test(topic)),
    payload: payloads,
    qos: fc.constantFrom(0 as const, 1 as const),
  });

  it('refuses generated garbage without stopping, records nothing for it, and routes a valid event after it', async function () {
    await fc.assert(
      fc.asyncProperty(fc.array(garbage, { minLength: 1, maxLength: 12 }), async (batch) => {
        const settledBefore = results.length;
        const storedBefore = await storedEvents();
        for (const message of batch) await producer.publishAsync(message.topic, message.payload, { qos: message.qos });
        await until(() => results.length === settledBefore + batch.length, 'the router settled every message', 15_000);

        const outcomes = results.slice(settledBefore);
        expect(outcomes.filter((r) => r === 'error'), 'unexpected errors').to.deep.equal([]);
        // Only what the router accepted is stored (a mutation may leave an event valid).
        expect(await storedEvents()).to.equal(storedBefore + outcomes.filter((r) => r === 'accepted').length);

        const id = `after-garbage-${randomUUID()}`;
        await producer.publishAsync(names.notifyUser('crm', 'alice'), JSON.stringify({ ...validEvent, id }), { qos: 1 });
        await until(() => received.some((m) => m.id === id), 'the valid event reached the dashboard', 15_000);
        await until(() => results.length === settledBefore + batch.length + 1, 'the router settled the valid event', 15_000);
        expect(results[results.length - 1]).to.equal('accepted');
      }),
      { numRuns: 40 },
    );

    const refused = results.filter((r) => r !== 'accepted');
    expect(refused.length).to.be.greaterThan(50);
    expect(new Set(refused)).to.include.members(['invalid_topic', 'invalid_json', 'invalid_request', 'too_deep', 'invalid_utf8']);
    const accepted = results.length - refused.length;
    expect(await storedEvents()).to.equal(accepted);
    expect(await queuedJobs()).to.be.at.most(accepted);
  });
});
