import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import {
  createGroupStore,
  createInboxStore,
  createNotificationStore,
  createSubscriptionStore,
  startDatabase,
  type Database,
  type InboxStore,
  type NotificationStore,
} from '../../shared/database/index.js';
import { routeJobSchema } from '../../shared/events/index.js';
import { testLogger } from '../support/silent-logger.js';
import { createTestDatabase, type TestDatabase } from '../support/test-databases.js';

for (const kind of ['mysql', 'sqlite'] as const) {
  describe(`inbox store (${kind === 'mysql' ? 'MariaDB' : 'SQLite'})`, function () {
    this.timeout(60_000);
    let testDb: TestDatabase;
    let database: Database;
    let inbox: InboxStore;
    let notifications: NotificationStore;

    before(async function () {
      testDb = await createTestDatabase(kind);
      database = await startDatabase(testDb.config, testLogger());
      inbox = createInboxStore(database.dataSource);
      notifications = createNotificationStore(database.dataSource);
    });
    after(async function () {
      await database?.close();
      await testDb?.drop();
    });

    const freshPackage = () => `pkg-${randomUUID().slice(0, 8)}`;

    /** An accepted notification, stored as intake stores it (the inbox reads its Message from there). */
    async function notification(pkg: string, title: string, extra: Record<string, unknown> = {}): Promise<string> {
      const id = `evt-${randomUUID()}`;
      await notifications.record(
        routeJobSchema.parse({
          id, package: pkg, target: { all: true }, event: { title, ...extra },
          acceptedAt: '2026-11-23T10:00:00.000Z', source: 'http',
        }),
      );
      return id;
    }

    it('stores one item per (notification, user): adding the same entries again inserts nothing', async function () {
      const pkg = freshPackage();
      const id = await notification(pkg, 'Invoice paid');
      const entries = ['alice', 'bob', 'Alice'].map((user) => ({ notificationId: id, package: pkg, user }));

      const first = await inbox.add(entries, new Date());
      const again = await inbox.add(entries, new Date());

      expect([first, again]).to.deep.equal([3, 0]);
      expect(await inbox.countUnseen(pkg, ['alice', 'bob', 'Alice', 'nobody'])).to.deep.equal(
        new Map([['alice', 1], ['bob', 1], ['Alice', 1]]),
      );
    });

    it('pages newest first with before, and oldest first with after, through items that share a timestamp', async function () {
      const pkg = freshPackage();
      const same = new Date('2026-11-23T10:00:00.123Z');
      const titles = ['one', 'two', 'three', 'four', 'five'];
      for (const [i, title] of titles.entries()) {
        const id = await notification(pkg, title);
        // Three items in the same millisecond, then two later ones.
        await inbox.add([{ notificationId: id, package: pkg, user: 'alice' }], i < 3 ? same : new Date(same.getTime() + i));
      }
      const title = (e: string) => (JSON.parse(e) as { title: string }).title;

      const page1 = await inbox.list(pkg, 'alice', { state: 'all', limit: 2 });
      const page2 = await inbox.list(pkg, 'alice', { state: 'all', limit: 2, before: page1[1]! });
      const page3 = await inbox.list(pkg, 'alice', { state: 'all', limit: 2, before: page2[1]! });
      const newer = await inbox.list(pkg, 'alice', { state: 'all', limit: 10, after: page3[0]! });

      expect([...page1, ...page2, ...page3].map((item) => title(item.event))).to.deep.equal(['five', 'four', 'three', 'two', 'one']);
      expect(newer.map((item) => title(item.event))).to.deep.equal(['two', 'three', 'four', 'five']);
      expect(page2[1]!.createdAt.toISOString()).to.equal(same.toISOString());
      expect(page1[0]!.acceptedAt.toISOString()).to.equal('2026-11-23T10:00:00.000Z');
      expect(page1[0]!.seenAt).to.equal(null);
    });

    it('marks seen by ids or up to an item, only the caller\'s unseen items, and lists by state', async function () {
      const pkg = freshPackage();
      const ids: string[] = [];
      for (let i = 0; i < 4; i += 1) {
        const id = await notification(pkg, `n${i}`);
        await inbox.add(['alice', 'bob'].map((user) => ({ notificationId: id, package: pkg, user })), new Date(Date.now() + i));
        ids.push(id);
      }
      const items = await inbox.list(pkg, 'alice', { state: 'all', limit: 10 });
      const bobs = await inbox.list(pkg, 'bob', { state: 'all', limit: 10 });
      const at = new Date();

      // Bob's item ids in Alice's request change nothing of Bob's.
      const byIds = await inbox.markSeen(pkg, 'alice', { ids: [items[0]!.id, bobs[1]!.id] }, at);
      const again = await inbox.markSeen(pkg, 'alice', { ids: [items[0]!.id] }, at);
      const upTo = await inbox.markSeen(pkg, 'alice', { upTo: items[2]! }, at);

      expect([byIds, again, upTo]).to.deep.equal([1, 0, 2]);
      expect(await inbox.countUnseen(pkg, ['alice', 'bob'])).to.deep.equal(new Map([['alice', 1], ['bob', 4]]));
      const unseen = await inbox.list(pkg, 'alice', { state: 'unseen', limit: 10 });
      const seen = await inbox.list(pkg, 'alice', { state: 'seen', limit: 10 });
      expect(unseen.map((item) => item.id)).to.deep.equal([items[1]!.id]);
      expect(seen.map((item) => item.id)).to.deep.equal([items[0]!.id, items[2]!.id, items[3]!.id]);
      expect(seen[0]!.seenAt!.getTime()).to.be.closeTo(at.getTime(), 1);
    });

    it('purges items seen before the cut-off in batches, and never an unseen one', async function () {
      const pkg = freshPackage();
      const id = await notification(pkg, 'old news');
      const users = Array.from({ length: 7 }, (_, i) => `u${i}`);
      await inbox.add(users.map((user) => ({ notificationId: id, package: pkg, user })), new Date());
      const longAgo = new Date(Date.now() - 40 * 24 * 3600 * 1000);
      for (const user of users.slice(0, 5)) await inbox.markSeen(pkg, user, { upTo: { createdAt: new Date(), id: '999999999' } }, longAgo);
      await inbox.markSeen(pkg, 'u5', { upTo: { createdAt: new Date(), id: '999999999' } }, new Date());
      const cutOff = new Date(Date.now() - 30 * 24 * 3600 * 1000);

      const batches = [await inbox.purgeSeen(cutOff, 2), await inbox.purgeSeen(cutOff, 2), await inbox.purgeSeen(cutOff, 2)];

      expect(batches).to.deep.equal([2, 2, 1]);
      const left = await Promise.all(users.map((user) => inbox.list(pkg, user, { state: 'all', limit: 5 })));
      expect(left.map((items) => items.length)).to.deep.equal([0, 0, 0, 0, 0, 1, 1]);
      expect(await inbox.countUnseen(pkg, users)).to.deep.equal(new Map([['u6', 1]]));
    });

    it('counts users with inbox items among the users of "all", merged with subscribers, once each', async function () {
      const pkg = freshPackage();
      const subscriptions = createSubscriptionStore(database.dataSource);
      for (const user of ['bob', 'dave']) {
        await subscriptions.upsert({
          user, package: pkg, endpoint: `https://fcm.googleapis.com/fcm/send/${randomUUID()}`, p256dh: 'p', auth: 'a',
          module: null, userAgent: null, expirationTime: null, vapidKeyId: null,
        });
      }
      const id = await notification(pkg, 'hello');
      await inbox.add(['alice', 'bob', 'carol', 'erin'].map((user) => ({ notificationId: id, package: pkg, user })), new Date());
      const batches: string[][] = [];

      await createGroupStore(database.dataSource).forEachActiveUserBatch(pkg, 2, async (users) => {
        batches.push(users);
      });

      expect(batches).to.deep.equal([['alice', 'bob'], ['carol', 'dave'], ['erin']]);
    });
  });
}
