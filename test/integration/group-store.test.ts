import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import {
  createGroupStore,
  createSubscriptionStore,
  startDatabase,
  type Database,
  type GroupStore,
  type SubscriptionStore,
} from '../../shared/database/index.js';
import { GroupMemberEntity } from '../../shared/entities/index.js';
import { testLogger } from '../support/silent-logger.js';
import { createTestDatabase, type TestDatabase } from '../support/test-databases.js';

/** A package name of the test's own, so tests sharing the database never see each other's rows. */
const freshPackage = () => `pkg-${randomUUID().slice(0, 8)}`;

/** Every batch `forEach*` hands over, in order. */
async function collectBatches(
  each: (fn: (users: string[]) => Promise<void>) => Promise<void>,
): Promise<string[][]> {
  const batches: string[][] = [];
  await each(async (users) => {
    batches.push([...users]);
  });
  return batches;
}

for (const kind of ['mysql', 'sqlite'] as const) {
  describe(`GroupStore on ${kind === 'mysql' ? 'MariaDB' : 'SQLite'}`, function () {
    let testDb: TestDatabase;
    let database: Database;
    let groups: GroupStore;
    let subscriptions: SubscriptionStore;

    before(async function () {
      testDb = await createTestDatabase(kind);
      database = await startDatabase(testDb.config, testLogger());
      groups = createGroupStore(database.dataSource);
      subscriptions = createSubscriptionStore(database.dataSource);
    });

    after(async function () {
      await database?.close();
      await testDb?.drop();
    });

    it('creates group_member keyed by (package, group_name, user) with an index on (package, user)', async function () {
      const runner = database.dataSource.createQueryRunner();
      try {
        const table = await runner.getTable('group_member');
        expect(table?.primaryColumns.map((c) => c.name).sort()).to.deep.equal(['group_name', 'package', 'user']);
        expect(table?.columns.map((c) => c.name)).to.include.members(['created_at']);
        expect(table?.findColumnByName('user')?.length).to.equal('128');
        expect(table?.indices.some((i) => i.columnNames.join() === 'package,user')).to.equal(true);
      } finally {
        await runner.release();
      }
    });

    it('adds a member once: true the first time, false when already a member', async function () {
      const pkg = freshPackage();
      expect(await groups.add(pkg, 'sales', 'alice')).to.equal(true);
      expect(await groups.add(pkg, 'sales', 'alice')).to.equal(false);
      expect(await groups.list(pkg, 'sales', { limit: 10 })).to.deep.equal(['alice']);
    });

    it('removes a member: true once, false when they are not a member', async function () {
      const pkg = freshPackage();
      await groups.add(pkg, 'sales', 'bob');
      expect(await groups.remove(pkg, 'sales', 'bob')).to.equal(true);
      expect(await groups.remove(pkg, 'sales', 'bob')).to.equal(false);
      expect(await groups.remove(pkg, 'sales', 'never-added')).to.equal(false);
      expect(await groups.list(pkg, 'sales', { limit: 10 })).to.deep.equal([]);
    });

    it('keeps groups of the same name in different packages, and different groups, apart', async function () {
      const [crm, billing] = [freshPackage(), freshPackage()];
      await groups.add(crm, 'sales', 'alice');
      await groups.add(crm, 'support', 'bob');
      await groups.add(billing, 'sales', 'carol');
      expect(await groups.list(crm, 'sales', { limit: 10 })).to.deep.equal(['alice']);
      expect(await groups.list(billing, 'sales', { limit: 10 })).to.deep.equal(['carol']);
      expect(await groups.remove(billing, 'sales', 'alice')).to.equal(false);
    });

    it('treats user names as case-sensitive, ordered the same way on every database', async function () {
      const pkg = freshPackage();
      expect(await groups.add(pkg, 'g', 'alice')).to.equal(true);
      expect(await groups.add(pkg, 'g', 'Alice')).to.equal(true);
      expect(await groups.list(pkg, 'g', { limit: 10 })).to.deep.equal(['Alice', 'alice']);
      expect(await groups.list(pkg, 'g', { after: 'Alice', limit: 10 })).to.deep.equal(['alice']);
    });

    it('pages members in user order, each page starting after the last user of the one before', async function () {
      const pkg = freshPackage();
      const users = ['u-05', 'u-01', 'u-04', 'u-02', 'u-03'];
      for (const user of users) await groups.add(pkg, 'g', user);

      expect(await groups.list(pkg, 'g', { limit: 2 })).to.deep.equal(['u-01', 'u-02']);
      expect(await groups.list(pkg, 'g', { after: 'u-02', limit: 2 })).to.deep.equal(['u-03', 'u-04']);
      expect(await groups.list(pkg, 'g', { after: 'u-04', limit: 2 })).to.deep.equal(['u-05']);
      expect(await groups.list(pkg, 'g', { after: 'u-05', limit: 2 })).to.deep.equal([]);
      // A cursor need not be a member (one removed since): paging goes on after it.
      expect(await groups.list(pkg, 'g', { after: 'u-025', limit: 10 })).to.deep.equal(['u-03', 'u-04', 'u-05']);
    });

    it('refuses a limit that is not a positive integer', async function () {
      for (const limit of [0, -1, 1.5, Number.NaN]) {
        await groups.list('crm', 'g', { limit }).then(
          () => expect.fail(`limit ${limit} was accepted`),
          (err: unknown) => expect(err).to.be.instanceOf(RangeError),
        );
      }
    });

    it('streams 2,500 members in batches of at most 1,000, each member exactly once', async function () {
      this.timeout(60_000);
      const pkg = freshPackage();
      const users = Array.from({ length: 2500 }, (_, i) => `member-${String(i).padStart(4, '0')}`);
      const repo = database.dataSource.getRepository(GroupMemberEntity);
      const createdAt = new Date();
      for (let i = 0; i < users.length; i += 250) {
        await repo.insert(users.slice(i, i + 250).map((user) => ({ package: pkg, groupName: 'big', user, createdAt })));
      }

      const batches = await collectBatches((fn) => groups.forEachBatch(pkg, 'big', 1000, fn));

      expect(batches.map((b) => b.length)).to.deep.equal([1000, 1000, 500]);
      expect(batches.flat()).to.deep.equal(users);
    });

    it('calls nothing for an empty group, and stops after a last batch that is exactly full', async function () {
      const pkg = freshPackage();
      expect(await collectBatches((fn) => groups.forEachBatch(pkg, 'empty', 10, fn))).to.deep.equal([]);
      for (const user of ['a', 'b', 'c', 'd']) await groups.add(pkg, 'four', user);
      const batches = await collectBatches((fn) => groups.forEachBatch(pkg, 'four', 2, fn));
      expect(batches).to.deep.equal([['a', 'b'], ['c', 'd']]);
    });

    it('streams the users with an active subscription once each, however many subscriptions they have', async function () {
      const pkg = freshPackage();
      const subscribe = async (user: string, packageName = pkg) => {
        const endpoint = `https://fcm.googleapis.com/fcm/send/${randomUUID()}`;
        const common = { module: null, userAgent: null, expirationTime: null, vapidKeyId: null };
        return subscriptions.upsert({ user, package: packageName, endpoint, p256dh: 'p', auth: 'a', ...common });
      };
      for (const user of ['dave', 'carol', 'bob', 'alice', 'erin']) await subscribe(user);
      await subscribe('alice');
      await subscribe('alice');
      await subscribe('bob');
      // Active elsewhere only, or only inactive here: not users of this package to push to.
      await subscribe('mallory', freshPackage());
      const { endpointHash } = await subscribe('gone');
      await subscriptions.deactivate({ user: 'gone', package: pkg, endpointHash }, 'unsubscribed');
      // One of two subscriptions inactive: still active.
      const erinOld = await subscribe('erin');
      await subscriptions.deactivate({ user: 'erin', package: pkg, endpointHash: erinOld.endpointHash }, 'stale');

      const batches = await collectBatches((fn) => groups.forEachActiveUserBatch(pkg, 2, fn));

      expect(batches).to.deep.equal([['alice', 'bob'], ['carol', 'dave'], ['erin']]);
    });
  });
}
