import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { startDatabase, type Database } from '../../shared/database/index.js';
import type { Service } from '../../shared/lifecycle/index.js';
import {
  connectRedis,
  createPushQueue,
  createReminderSchedules,
  type PushQueue,
  type ReminderSchedules,
} from '../../shared/queue/index.js';
import { startReminderWorker } from '../../services/notify-router/fire-reminder.js';
import { HARNESS_PACKAGE, PushWorkerHarness, sleep, testPushConfig } from '../support/push-worker-harness.js';
import { testLogger } from '../support/silent-logger.js';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../support/test-databases.js';

describe('a daily reminder delivered by a real push-worker (MariaDB, Redis, local push service)', function () {
  this.timeout(30_000);
  let testDb: TestDatabase;
  let database: Database;
  let redis: Redis;
  let harness: PushWorkerHarness;
  let pushQueue: PushQueue;
  let schedules: ReminderSchedules;
  let worker: Service;
  let workerConnections: Redis[];

  before(async function () {
    testDb = await createTestDatabase('mysql');
    database = await startDatabase(testDb.config, testLogger());
    redis = connectRedis(TEST_REDIS_URL, { log: testLogger(), role: 'test' });
    harness = await new PushWorkerHarness(database.dataSource, redis, testPushConfig()).start();
  });
  after(async function () {
    await worker?.close();
    for (const connection of workerConnections ?? []) await connection.quit();
    await schedules?.close();
    await pushQueue?.close();
    await harness?.close();
    await redis?.quit();
    await database?.close();
    await testDb?.drop();
  });

  it('reaches the one browser that asked for it, with the message, and no other browser of the user', async function () {
    const service = await harness.pushService();
    const user = harness.newUser();
    const asked = await harness.subscribe(user, service, '/with-reminder');
    await harness.subscribe(user, service, '/without-reminder');
    const row = await harness.row(asked);
    const at = new Date(Math.ceil((Date.now() + 2_000) / 1000) * 1000);
    const reminder = { utcHour: at.getUTCHours(), minute: at.getUTCMinutes() };
    // What POST /v1/subscriptions with a notifyTime stores, then schedules.
    await harness.store.upsert({
      user, package: HARNESS_PACKAGE, endpoint: asked.endpoint, p256dh: asked.keys.p256dh, auth: asked.keys.auth,
      module: null, userAgent: null, expirationTime: null, vapidKeyId: row.vapidKeyId,
      reminder: { ...reminder, type: 'DIRECT_NOTIFICATION', message: 'Stretch your legs' },
    });
    const pattern = () => `${at.getUTCSeconds()} ${reminder.minute} ${reminder.utcHour} * * *`;
    schedules = createReminderSchedules({ connection: redis, prefix: harness.prefix, log: testLogger(), pattern });
    await schedules.upsert({ user, package: HARNESS_PACKAGE, endpointHash: row.endpointHash, ...reminder });
    pushQueue = createPushQueue({ connection: redis, prefix: harness.prefix, log: testLogger() });
    workerConnections = [1, 2].map(() => connectRedis(TEST_REDIS_URL, { log: testLogger(), role: 'test-router' }));
    worker = startReminderWorker({
      connection: workerConnections[0]!, producer: workerConnections[1]!, prefix: harness.prefix,
      subscriptions: harness.store, pushQueue, log: testLogger(), pattern,
    });

    const [received] = await service.waitFor('/with-reminder', 1, 10_000);
    await sleep(1_000);

    expect(received!.problems).to.deep.equal([]);
    const message = JSON.parse(received!.plaintext!.toString('utf8')) as Record<string, unknown>;
    expect(message).to.deep.include({ package: HARNESS_PACKAGE, user, title: 'Reminder', body: 'Stretch your legs' });
    expect(message['createdAt']).to.equal(at.toISOString());
    expect(service.requestsTo('/with-reminder')).to.have.length(1);
    expect(service.requestsTo('/without-reminder')).to.have.length(0);
  });
});
