import { expect } from 'chai';
import { Redis } from 'ioredis';
import { startDatabase, type Database } from '../../shared/database/index.js';
import { eventually, PushWorkerHarness, sleep, testPushConfig } from '../support/push-worker-harness.js';
import { testLogger } from '../support/silent-logger.js';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../support/test-databases.js';

/**
 * How many push jobs a worker holds at once follows their size (job-budget.ts): with 8 send
 * slots a worker holds 64 users' worth. Every endpoint here hangs, so a job stays held until
 * the harness closes, and what the worker took can be read off the queue.
 */
describe('push-worker jobs held at once', function () {
  this.timeout(20_000);
  let testDb: TestDatabase;
  let database: Database;
  let redis: Redis;
  let harness: PushWorkerHarness | undefined;

  before(async function () {
    testDb = await createTestDatabase('sqlite');
    database = await startDatabase(testDb.config, testLogger());
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  });

  after(async function () {
    await redis?.quit();
    await database?.close();
    await testDb?.drop();
  });

  afterEach(async function () {
    await harness?.close();
    harness = undefined;
  });

  async function hangingUsers(h: PushWorkerHarness, count: number): Promise<string[]> {
    const service = await h.pushService();
    const users = Array.from({ length: count }, () => h.newUser());
    for (const user of users) await h.subscribe(user, service, `/hang/${user}`, 'hang');
    return users;
  }

  it('holds one large job at a time and leaves the next ones to another worker', async function () {
    // A deadline longer than the test: the hanging sends keep their jobs.
    harness = await new PushWorkerHarness(database.dataSource, redis, testPushConfig({ timeoutMs: 10_000, shutdownTimeoutMs: 500 })).start();
    const users = await hangingUsers(harness, 3 * 60);
    for (let i = 0; i < 3; i++) await harness.pushMany(users.slice(i * 60, (i + 1) * 60));

    await eventually(() => harness!.jobCounts(), (c) => c.active === 1);
    await sleep(500);
    expect(await harness.jobCounts()).to.deep.equal({ active: 1, waiting: 2 });

    await harness.startAnotherWorker();
    await eventually(() => harness!.jobCounts(), (c) => c.active === 2);
    await sleep(500);
    expect(await harness.jobCounts()).to.deep.equal({ active: 2, waiting: 1 });
  });

  it('takes many one-user jobs at once', async function () {
    harness = await new PushWorkerHarness(database.dataSource, redis, testPushConfig({ timeoutMs: 10_000, shutdownTimeoutMs: 500 })).start();
    const users = await hangingUsers(harness, 40);
    for (const user of users) await harness.push(user);

    const counts = await eventually(() => harness!.jobCounts(), (c) => c.active === 40);
    expect(counts.waiting).to.equal(0);
  });
});
