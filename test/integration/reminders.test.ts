import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import {
  createSubscriptionStore,
  startDatabase,
  type Database,
  type SubscriptionKey,
  type SubscriptionStore,
} from '../../shared/database/index.js';
import type { Service } from '../../shared/lifecycle/index.js';
import {
  connectRedis,
  createPushQueue,
  createReminderSchedules,
  type DailyReminder,
  type PushQueue,
  type ReminderSchedules,
  type ReminderTime,
} from '../../shared/queue/index.js';
import { pushJobId, QUEUE_NAMES, reminderEventId, reminderSchedulerId } from '../../shared/topics/index.js';
import { fireReminder, startReminderWorker } from '../../services/notify-router/fire-reminder.js';
import { obliterateQueues } from '../support/queues.js';
import { testLogger } from '../support/silent-logger.js';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../support/test-databases.js';

const DAY_MS = 24 * 3600 * 1000;

describe('daily reminders fired by reminder workers (BullMQ job schedulers, MariaDB)', function () {
  this.timeout(30_000);
  let testDb: TestDatabase;
  let database: Database;
  let store: SubscriptionStore;
  let prefix: string;
  let redis: Redis;
  let pushQueue: PushQueue;
  let pushes: Queue;
  let reminderQueue: Queue;
  let running: Service[];
  let schedulesOpen: ReminderSchedules[];

  before(async function () {
    testDb = await createTestDatabase('mysql');
    database = await startDatabase(testDb.config, testLogger());
    store = createSubscriptionStore(database.dataSource);
  });
  after(async function () {
    await database?.close();
    await testDb?.drop();
  });

  beforeEach(function () {
    prefix = `test-${randomUUID()}`;
    redis = connectRedis(TEST_REDIS_URL, { log: testLogger(), role: 'test' });
    pushQueue = createPushQueue({ connection: redis, prefix, log: testLogger() });
    pushes = new Queue(QUEUE_NAMES.push, { connection: redis, prefix });
    reminderQueue = new Queue(QUEUE_NAMES.reminders, { connection: redis, prefix });
    running = [];
    schedulesOpen = [];
  });
  afterEach(async function () {
    for (const service of running) await service.close();
    for (const schedules of schedulesOpen) await schedules.close();
    await pushes.close();
    await reminderQueue.close();
    await pushQueue.close();
    await obliterateQueues(redis, prefix);
    await redis.quit();
  });

  /**
   * The daily pattern with a seconds field: the reminder fires today at `at` (to the second), in
   * UTC, through the same cron path as `m h * * *`, instead of a minute or a day later.
   */
  function atSecondOf(at: Date) {
    return (time: ReminderTime) => `${at.getUTCSeconds()} ${time.minute} ${time.utcHour} * * *`;
  }

  /** A subscription whose reminder falls due `inMs` from now; its scheduler, as the API makes it. */
  async function subscribeWithReminder(inMs: number, type: DailyReminder['type'] = 'DAILY_CHECK', message: string | null = null) {
    const at = new Date(Math.ceil((Date.now() + inMs) / 1000) * 1000);
    const user = `u-${randomUUID().slice(0, 8)}`;
    const reminder = { utcHour: at.getUTCHours(), minute: at.getUTCMinutes(), type, message };
    const { endpointHash } = await store.upsert({
      user, package: 'crm', endpoint: `https://fcm.googleapis.com/fcm/send/${randomUUID()}`,
      p256dh: 'p', auth: 'a', module: null, userAgent: null, expirationTime: null, vapidKeyId: null, reminder,
    });
    const key: SubscriptionKey = { user, package: 'crm', endpointHash };
    const schedules = createReminderSchedules({ connection: redis, prefix, log: testLogger(), pattern: atSecondOf(at) });
    schedulesOpen.push(schedules);
    await schedules.upsert({ ...key, utcHour: reminder.utcHour, minute: reminder.minute });
    return { key, at, pattern: atSecondOf(at) };
  }

  function startWorker(pattern: ReturnType<typeof atSecondOf>): Service {
    const connection = connectRedis(TEST_REDIS_URL, { log: testLogger(), role: 'test-worker' });
    const producer = connectRedis(TEST_REDIS_URL, { log: testLogger(), role: 'test-producer' });
    const worker = startReminderWorker({ connection, producer, prefix, subscriptions: store, pushQueue, log: testLogger(), pattern });
    const service: Service = {
      name: worker.name,
      async close() {
        await worker.close();
        await Promise.all([connection.quit(), producer.quit()]);
      },
    };
    running.push(service);
    return service;
  }

  const pushJobs = () => pushes.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed']);

  async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error('timed out waiting');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('two workers and one scheduler fire the reminder once: one push job for that subscription', async function () {
    const { key, at, pattern } = await subscribeWithReminder(2_500, 'DAILY_CHECK', 'Did you check in today?');
    startWorker(pattern);
    startWorker(pattern);

    await until(async () => (await pushJobs()).length > 0, 10_000);
    await sleep(1_500);

    const jobs = await pushJobs();
    const eventId = reminderEventId(reminderSchedulerId(key), at.getTime());
    expect(jobs.map((job) => job.id)).to.deep.equal([pushJobId(eventId, [key.user])]);
    expect(jobs[0]!.data).to.deep.include({ eventId, package: 'crm', users: [key.user], endpointHash: key.endpointHash });
    expect(jobs[0]!.data.message).to.deep.include({ id: eventId, title: 'Daily check', body: 'Did you check in today?' });
    expect(await reminderQueue.getCompletedCount()).to.equal(1);
    const scheduler = await reminderQueue.getJobScheduler(reminderSchedulerId(key));
    expect(scheduler?.next).to.equal(at.getTime() + DAY_MS);
  });

  it('a reminder that fell due while no worker ran fires once when a worker starts after', async function () {
    const { key, at, pattern } = await subscribeWithReminder(3_000, 'DIRECT_NOTIFICATION');
    const before = startWorker(pattern);
    await sleep(1_000);
    await before.close();
    running.splice(running.indexOf(before), 1);
    await sleep(Math.max(0, at.getTime() - Date.now()) + 1_500);
    expect(await pushJobs()).to.have.length(0);

    startWorker(pattern);
    await until(async () => (await pushJobs()).length > 0, 10_000);
    await sleep(1_500);

    const jobs = await pushJobs();
    expect(jobs).to.have.length(1);
    expect(jobs[0]!.data.eventId).to.equal(reminderEventId(reminderSchedulerId(key), at.getTime()));
    expect(jobs[0]!.data.message).to.deep.include({ title: 'Reminder', body: 'This is your daily reminder.' });
    expect((await reminderQueue.getJobScheduler(reminderSchedulerId(key)))?.next).to.equal(at.getTime() + DAY_MS);
  });

  it('a reminder of a deactivated subscription sends nothing and removes its scheduler', async function () {
    const { key, pattern } = await subscribeWithReminder(1_500);
    // What the push-worker does on a 410 (or its stale sweep): it knows nothing of reminders.
    await store.deactivate(key, 'push-service-410');
    startWorker(pattern);

    await until(async () => (await reminderQueue.getJobScheduler(reminderSchedulerId(key))) === undefined, 10_000);
    await sleep(500);

    expect(await pushJobs()).to.have.length(0);
    expect(await reminderQueue.getDelayedCount()).to.equal(0);
  });

  it('firing the same reminder time again (a retry, a second router) queues no second push', async function () {
    const { key } = await subscribeWithReminder(60_000);
    const [row] = await store.list(key.user, 'crm');
    const job = { ...key, utcHour: row!.notifyUtcHour!, minute: row!.notifyMinute! };
    const deps = { subscriptions: store, pushQueue, reminders: { upsert: fail, remove: fail }, log: testLogger() };
    const firesAt = Date.UTC(2026, 10, 23, job.utcHour, job.minute);

    const outcomes = await Promise.all([fireReminder(deps, job, firesAt), fireReminder(deps, job, firesAt)]);
    await fireReminder(deps, job, firesAt);
    await fireReminder(deps, job, firesAt + DAY_MS);

    expect(outcomes).to.deep.equal(['queued', 'queued']);
    const ids = (await pushJobs()).map((j) => j.data.eventId).sort();
    expect(ids).to.deep.equal(
      [reminderEventId(reminderSchedulerId(key), firesAt), reminderEventId(reminderSchedulerId(key), firesAt + DAY_MS)].sort(),
    );
  });

  it('a firing at a time the subscription no longer asks for sends nothing and moves the scheduler', async function () {
    const { key, at } = await subscribeWithReminder(60_000);
    const later = new Date(at.getTime() + 3 * 3600 * 1000);
    const schedules = createReminderSchedules({ connection: redis, prefix, log: testLogger() });
    schedulesOpen.push(schedules);
    const stale = { ...key, utcHour: later.getUTCHours(), minute: later.getUTCMinutes() };
    const deps = { subscriptions: store, pushQueue, reminders: schedules, log: testLogger() };

    expect(await fireReminder(deps, stale, later.getTime())).to.equal('moved');

    expect(await pushJobs()).to.have.length(0);
    expect((await reminderQueue.getJobScheduler(reminderSchedulerId(key)))?.pattern).to.equal(
      `${at.getUTCMinutes()} ${at.getUTCHours()} * * *`,
    );
  });
});

function fail(): never {
  throw new Error('not expected in this test');
}
