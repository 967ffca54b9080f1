import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { createSubscriptionStore, hashEndpoint, startDatabase, type Database } from '../../shared/database/index.js';
import { QUEUE_NAMES, reminderSchedulerId } from '../../shared/topics/index.js';
import type { SubscriptionApi } from '../../services/subscription-api/start-subscription-api.js';
import { obliterateQueues } from '../support/queues.js';
import { testLogger } from '../support/silent-logger.js';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../support/test-databases.js';
import { startRealTestApi } from '../support/test-api.js';
import { userToken } from '../support/tokens.js';
import { createBrowserKeys } from '../support/web-push-receiver.js';

const DAY_MS = 24 * 3600 * 1000;

describe('daily reminders through POST and DELETE /v1/subscriptions (MariaDB, Redis)', function () {
  const prefix = `test-${randomUUID()}`;
  let testDb: TestDatabase;
  let database: Database;
  let api: SubscriptionApi;
  let redis: Redis;
  let reminders: Queue;

  before(async function () {
    testDb = await createTestDatabase('mysql');
    database = await startDatabase(testDb.config, testLogger());
    api = await startRealTestApi(database.dataSource, prefix);
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    reminders = new Queue(QUEUE_NAMES.reminders, { connection: redis, prefix });
  });

  after(async function () {
    await reminders?.close();
    await api?.close();
    await database?.close();
    await testDb?.drop();
    if (redis) await obliterateQueues(redis, prefix);
    await redis?.quit();
  });

  async function call(method: string, body: unknown, user = 'alice') {
    const res = await fetch(`http://127.0.0.1:${api.port}/v1/subscriptions`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await userToken(user, ['crm'])}` },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }

  function subscription<T extends object>(extra: T = {} as T) {
    const keys = createBrowserKeys();
    return {
      package: 'crm',
      endpoint: `https://fcm.googleapis.com/fcm/send/${randomUUID()}`,
      keys: { p256dh: keys.p256dh, auth: keys.auth },
      ...extra,
    };
  }

  const schedulerOf = (user: string, endpoint: string) =>
    reminderSchedulerId({ user, package: 'crm', endpointHash: hashEndpoint(endpoint) });

  async function listed(user = 'alice') {
    const res = await fetch(`http://127.0.0.1:${api.port}/v1/subscriptions?package=crm`, {
      headers: { authorization: `Bearer ${await userToken(user, ['crm'])}` },
    });
    return ((await res.json()) as { subscriptions: Record<string, any>[] }).subscriptions;
  }

  it('refuses invalid reminder fields with 400 naming the field', async function () {
    const cases: [Record<string, unknown>, string][] = [
      [{ notifyTime: { utcHour: 24, minute: 0 }, notifyType: 'DAILY_CHECK' }, 'notifyTime.utcHour'],
      [{ notifyTime: { utcHour: -1, minute: 0 }, notifyType: 'DAILY_CHECK' }, 'notifyTime.utcHour'],
      [{ notifyTime: { utcHour: 9, minute: 60 }, notifyType: 'DAILY_CHECK' }, 'notifyTime.minute'],
      [{ notifyTime: { utcHour: 9, minute: 1.5 }, notifyType: 'DAILY_CHECK' }, 'notifyTime.minute'],
      [{ notifyTime: { utcHour: '9', minute: 0 }, notifyType: 'DAILY_CHECK' }, 'notifyTime.utcHour'],
      [{ notifyTime: { utcHour: 9 }, notifyType: 'DAILY_CHECK' }, 'notifyTime.minute'],
      [{ notifyTime: { utcHour: 9, minute: 0 }, notifyType: 'WEEKLY' }, 'notifyType'],
      [{ notifyTime: { utcHour: 9, minute: 0 }, notifyType: 'DAILY_CHECK', message: 'x'.repeat(101) }, 'message'],
      [{ notifyTime: { utcHour: 9, minute: 0 } }, 'notifyType: required with notifyTime'],
      [{ notifyType: 'DAILY_CHECK' }, 'notifyType: needs notifyTime'],
      [{ message: 'hello' }, 'message: needs notifyTime'],
    ];
    for (const [fields, named] of cases) {
      const res = await call('POST', subscription(fields));
      expect(res.status, JSON.stringify(fields)).to.equal(400);
      expect(res.body['error']['code']).to.equal('invalid_request');
      expect(res.body['error']['message'], JSON.stringify(fields)).to.include(named);
    }
    expect(await reminders.getJobSchedulersCount()).to.equal(0);
  });

  it('schedules a daily cron job in UTC for a subscription with a reminder, and lists it', async function () {
    const message = 'Log today’s gratitude 🙏'.padEnd(100, '.');
    const input = subscription({ notifyTime: { utcHour: 9, minute: 30 }, notifyType: 'DIRECT_NOTIFICATION', message });
    const res = await call('POST', input);

    expect(res.status).to.equal(201);
    const scheduler = await reminders.getJobScheduler(schedulerOf('alice', input.endpoint));
    expect(scheduler?.pattern).to.equal('30 9 * * *');
    expect(scheduler?.tz).to.equal('UTC');
    const next = new Date(scheduler!.next!);
    expect([next.getUTCHours(), next.getUTCMinutes(), next.getUTCSeconds()]).to.deep.equal([9, 30, 0]);
    expect(next.getTime() - Date.now()).to.be.within(0, DAY_MS);
    const row = (await listed()).find((s) => s['id'] === res.body['id']);
    expect(row?.['reminder']).to.deep.equal({
      notifyTime: { utcHour: 9, minute: 30 },
      notifyType: 'DIRECT_NOTIFICATION',
      message,
    });
  });

  it('moves the reminder when the subscription is sent again with another time, keeps it when sent without, and removes it on notifyTime: null', async function () {
    const input = subscription({ notifyTime: { utcHour: 7, minute: 5 }, notifyType: 'DAILY_CHECK' });
    await call('POST', input);
    const id = schedulerOf('alice', input.endpoint);
    const again = await call('POST', input);
    expect(again.status).to.equal(200);
    expect((await reminders.getDelayed()).filter((job) => job.repeatJobKey === id)).to.have.length(1);

    const moved = await call('POST', { ...input, notifyTime: { utcHour: 22, minute: 45 } });
    expect(moved.status).to.equal(200);
    expect((await reminders.getJobScheduler(id))?.pattern).to.equal('45 22 * * *');
    const pending = (await reminders.getDelayed()).filter((job) => job.repeatJobKey === id);
    expect(pending).to.have.length(1);
    expect(new Date(pending[0]!.timestamp + pending[0]!.delay).getUTCHours()).to.equal(22);

    // A browser registering its subscription again, without reminder fields, keeps the reminder.
    const { notifyTime: _time, notifyType: _type, ...without } = input;
    expect((await call('POST', without)).status).to.equal(200);
    expect((await reminders.getJobScheduler(id))?.pattern).to.equal('45 22 * * *');

    const cleared = await call('POST', { ...without, notifyTime: null });
    expect(cleared.status).to.equal(200);
    expect(await reminders.getJobScheduler(id)).to.equal(undefined);
    expect((await reminders.getDelayed()).filter((job) => job.repeatJobKey === id)).to.have.length(0);
    expect((await listed()).find((s) => s['id'] === cleared.body['id'])?.['reminder']).to.equal(null);
  });

  it('removes the reminder when the user unsubscribes', async function () {
    const input = subscription({ notifyTime: { utcHour: 12, minute: 0 }, notifyType: 'DAILY_CHECK' });
    await call('POST', input);
    const id = schedulerOf('alice', input.endpoint);
    expect(await reminders.getJobScheduler(id)).to.not.equal(undefined);

    const res = await call('DELETE', { package: 'crm', endpoint: input.endpoint });

    expect(res.status).to.equal(200);
    expect(await reminders.getJobScheduler(id)).to.equal(undefined);
    expect((await reminders.getDelayed()).filter((job) => job.repeatJobKey === id)).to.have.length(0);
  });

  it('keeps one scheduler per subscription: the same endpoint of two users is two reminders', async function () {
    const input = subscription({ notifyTime: { utcHour: 8, minute: 0 }, notifyType: 'DAILY_CHECK' });
    await call('POST', input, 'bob');
    await call('POST', { ...input, notifyTime: { utcHour: 18, minute: 0 } }, 'carol');

    expect((await reminders.getJobScheduler(schedulerOf('bob', input.endpoint)))?.pattern).to.equal('0 8 * * *');
    expect((await reminders.getJobScheduler(schedulerOf('carol', input.endpoint)))?.pattern).to.equal('0 18 * * *');
  });
});

for (const kind of ['mysql', 'sqlite'] as const) {
  describe(`subscription reminders stored on ${kind === 'mysql' ? 'MariaDB' : 'SQLite'} (migration)`, function () {
    let testDb: TestDatabase;
    let database: Database;

    before(async function () {
      testDb = await createTestDatabase(kind);
      database = await startDatabase(testDb.config, testLogger());
    });
    after(async function () {
      await database?.close();
      await testDb?.drop();
    });

    it('keeps the reminder of a subscription, up to 100 characters of any text, on an upsert without one, and clears it on null', async function () {
      const store = createSubscriptionStore(database.dataSource);
      const message = '⏰ Zeit für deinen täglichen Check 🙂'.padEnd(100, '!');
      const base = {
        user: 'rita', package: 'crm', endpoint: `https://fcm.googleapis.com/fcm/send/${randomUUID()}`,
        p256dh: 'p', auth: 'a', module: null, userAgent: null, expirationTime: null, vapidKeyId: null,
      };
      await store.upsert({ ...base, reminder: { utcHour: 23, minute: 59, type: 'DIRECT_NOTIFICATION', message } });
      const [stored] = await store.list('rita', 'crm');
      expect([stored?.notifyUtcHour, stored?.notifyMinute, stored?.notifyType, stored?.notifyMessage]).to.deep.equal([
        23, 59, 'DIRECT_NOTIFICATION', message,
      ]);

      const kept = await store.upsert(base);
      expect(kept.reminder).to.deep.equal({ utcHour: 23, minute: 59, type: 'DIRECT_NOTIFICATION', message });
      const [still] = await store.list('rita', 'crm');
      expect(still?.notifyMessage).to.equal(message);

      await store.upsert({ ...base, reminder: null });
      const [cleared] = await store.list('rita', 'crm');
      expect([cleared?.notifyUtcHour, cleared?.notifyMinute, cleared?.notifyType, cleared?.notifyMessage]).to.deep.equal([
        null, null, null, null,
      ]);
    });
  });
}
