import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import {
  createInboxStore,
  createNotificationRetentionStore,
  createNotificationStore,
  startDatabase,
  type Database,
  type NotificationRetentionStore,
} from '../../shared/database/index.js';
import { createDeliveryStatus, type DeliveryStatus } from '../../shared/delivery-status/index.js';
import { routeJobSchema, type RouteJob } from '../../shared/events/index.js';
import { connectRedis, createRouteQueue, type RouteQueue } from '../../shared/queue/index.js';
import { purgeNotifications } from '../../services/notify-router/purge-notifications.js';
import { obliterateQueues } from '../support/queues.js';
import { testLogger } from '../support/silent-logger.js';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../support/test-databases.js';

const DAY_MS = 24 * 3600 * 1000;
const PKG = 'retention';

for (const kind of ['mysql', 'sqlite'] as const) {
  describe(`purgeNotifications (${kind === 'mysql' ? 'MariaDB' : 'SQLite'}, real Redis)`, function () {
    this.timeout(60_000);
    const now = new Date();
    const daysAgo = (days: number) => new Date(now.getTime() - days * DAY_MS);
    let testDb: TestDatabase;
    let database: Database;
    let redis: Redis;
    let prefix: string;
    let routeQueue: RouteQueue;
    let status: DeliveryStatus;
    let store: NotificationRetentionStore;

    beforeEach(async function () {
      testDb = await createTestDatabase(kind);
      database = await startDatabase(testDb.config, testLogger());
      prefix = `test-${randomUUID()}`;
      redis = connectRedis(TEST_REDIS_URL, { log: testLogger(), role: 'test' });
      routeQueue = createRouteQueue({ connection: redis, prefix, log: testLogger() });
      status = createDeliveryStatus(redis, prefix);
      store = createNotificationRetentionStore(database.dataSource);
    });
    afterEach(async function () {
      await routeQueue?.close();
      await obliterateQueues(redis, prefix);
      await redis?.quit();
      await database?.close();
      await testDb?.drop();
    });

    /** An accepted notification, stored as intake stores it, `acceptedAt` as given. */
    async function accepted(name: string, acceptedAt: Date): Promise<RouteJob> {
      const job = routeJobSchema.parse({
        id: `${name}-${randomUUID()}`, package: PKG, target: { user: 'alice' }, event: { title: name },
        acceptedAt: acceptedAt.toISOString(), source: 'http',
      });
      await createNotificationStore(database.dataSource).record(job);
      return job;
    }

    async function stored(ids: readonly string[]): Promise<string[]> {
      const notifications = createNotificationStore(database.dataSource);
      const rows = await Promise.all(ids.map((id) => notifications.get(id)));
      return ids.filter((_, i) => rows[i] !== null);
    }

    const deps = () => ({ notifications: store, routeQueue, status, log: testLogger() });

    it('deletes an old notification nothing needs, and keeps one an inbox shows, one still routing, one still pushing, and a recent one', async function () {
      const [deletable, delivered, inInbox, scheduled, pushing, recent] = await Promise.all([
        accepted('deletable', daysAgo(40)),
        accepted('delivered', daysAgo(40)),
        accepted('in-inbox', daysAgo(40)),
        accepted('scheduled', daysAgo(40)),
        accepted('pushing', daysAgo(40)),
        accepted('recent', daysAgo(29)),
      ]);
      // Every push of `delivered` ended; `pushing` has one user's push job still going.
      await status.set(delivered.id, { pushQueued: 2 });
      await status.add(delivered.id, { pushDone: 2 });
      await status.set(pushing.id, { pushQueued: 2 });
      await status.add(pushing.id, { pushDone: 1 });
      // An unseen item in alice's inbox (its Message is read from the notification).
      await createInboxStore(database.dataSource).add([{ notificationId: inInbox.id, package: PKG, user: 'alice' }], daysAgo(40));
      // A route job not yet taken (a `sendAt` in an hour).
      await routeQueue.add(scheduled, 3600_000);
      const all = [deletable, delivered, inInbox, scheduled, pushing, recent].map((job) => job.id);

      const keptForever = await purgeNotifications(deps(), 0, now);
      expect(keptForever).to.equal(0);
      expect(await stored(all)).to.deep.equal(all);

      const deleted = await purgeNotifications(deps(), 30, now);

      expect(deleted).to.equal(2);
      expect(await stored(all)).to.deep.equal([inInbox.id, scheduled.id, pushing.id, recent.id]);
      // Once the pushes are done and the route job is gone, the next purge takes them.
      await status.add(pushing.id, { pushDone: 1 });
      expect(await purgeNotifications(deps(), 30, now)).to.equal(1);
      expect(await stored(all)).to.deep.equal([inInbox.id, scheduled.id, recent.id]);
    });

    it('reads and deletes in batches of at most the batch size, walking past the rows it keeps', async function () {
      const kept: RouteJob[] = [];
      const old: RouteJob[] = [];
      // The five oldest are still pushing: a walk that read them again would never get past them.
      for (let i = 0; i < 5; i++) kept.push(await accepted(`kept-${i}`, daysAgo(60 - i)));
      for (let i = 0; i < 25; i++) old.push(await accepted(`old-${i}`, daysAgo(50)));
      for (const job of kept) await status.set(job.id, { pushQueued: 1 });
      const calls: { listed: number[]; deleted: number[] } = { listed: [], deleted: [] };
      const counting: NotificationRetentionStore = {
        async listUnreferencedBefore(before, from, limit) {
          const rows = await store.listUnreferencedBefore(before, from, limit);
          calls.listed.push(rows.length);
          return rows;
        },
        async deleteUnreferenced(ids) {
          calls.deleted.push(ids.length);
          return store.deleteUnreferenced(ids);
        },
      };

      const deleted = await purgeNotifications({ ...deps(), notifications: counting }, 30, now, 10);

      expect(deleted).to.equal(25);
      expect(calls).to.deep.equal({ listed: [10, 10, 10, 0], deleted: [5, 10, 10] });
      const ids = [...kept, ...old].map((job) => job.id);
      expect(await stored(ids)).to.deep.equal(kept.map((job) => job.id));
    });
  });
}
