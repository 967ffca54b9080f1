import { expect } from 'chai';
import { createSubscriptionStore, hashEndpoint, startDatabase, type Database, type SubscriptionStore, type UpsertSubscription } from '../../shared/database/index.js';
import { createBrowserKeys } from '../support/web-push-receiver.js';
import { testLogger } from '../support/silent-logger.js';
import { createTestDatabase, type TestDatabase } from '../support/test-databases.js';

function subscription(overrides: Partial<UpsertSubscription> = {}): UpsertSubscription {
  const keys = createBrowserKeys();
  return {
    user: 'alice',
    package: 'crm',
    endpoint: `https://fcm.googleapis.com/fcm/send/${Math.random().toString(36).slice(2)}`,
    p256dh: keys.p256dh,
    auth: keys.auth,
    module: null,
    userAgent: 'Mozilla/5.0 (test)',
    expirationTime: null,
    vapidKeyId: null,
    ...overrides,
  };
}

for (const kind of ['mysql', 'sqlite'] as const) {
  describe(`SubscriptionStore on ${kind === 'mysql' ? 'MariaDB' : 'SQLite'}`, function () {
    let testDb: TestDatabase;
    let database: Database;
    let store: SubscriptionStore;

    before(async function () {
      testDb = await createTestDatabase(kind);
      database = await startDatabase(testDb.config, testLogger());
      store = createSubscriptionStore(database.dataSource);
    });

    after(async function () {
      await database?.close();
      await testDb?.drop();
    });

    it('creates push_subscription keyed by (user, package, endpoint_hash) with the contract columns', async function () {
      const runner = database.dataSource.createQueryRunner();
      try {
        const table = await runner.getTable('push_subscription');
        expect(table?.primaryColumns.map((c) => c.name).sort()).to.deep.equal(['endpoint_hash', 'package', 'user']);
        expect(table?.columns.map((c) => c.name)).to.include.members([
          'endpoint', 'module', 'p256dh', 'auth', 'user_agent', 'expiration_time', 'vapid_key_id',
          'created_at', 'updated_at', 'last_success_at', 'failure_count', 'active', 'deactivated_reason',
        ]);
        expect(table?.findColumnByName('endpoint')?.length).to.equal('2048');
        expect(table?.indices.some((i) => i.columnNames.join() === 'endpoint_hash')).to.equal(true);
      } finally {
        await runner.release();
      }
    });

    it('inserts a new subscription and counts it as active', async function () {
      const input = subscription({ user: 'insert-user' });
      const result = await store.upsert(input);
      expect(result).to.deep.equal({ endpointHash: hashEndpoint(input.endpoint), created: true, reminder: null, total: 1 });
      expect(await store.countActive('insert-user', 'crm')).to.equal(1);
      const second = await store.upsert(subscription({ user: 'insert-user' }));
      expect(second.total, 'a second endpoint of the same user').to.equal(2);
    });

    it('updates the same endpoint in place instead of adding a second row', async function () {
      const first = subscription({ user: 'resubscriber' });
      await store.upsert(first);
      const renewed = { ...subscription({ user: 'resubscriber' }), endpoint: first.endpoint, module: 'inbox' };
      const result = await store.upsert(renewed);

      expect(result.created).to.equal(false);
      expect(result.total).to.equal(1);
      const [row, ...rest] = await store.listActive('crm', ['resubscriber']);
      expect(rest).to.have.length(0);
      expect(row?.p256dh).to.equal(renewed.p256dh);
      expect(row?.auth).to.equal(renewed.auth);
    });

    it('reactivates a soft-deleted subscription when the browser subscribes again', async function () {
      const input = subscription({ user: 'returning' });
      const { endpointHash } = await store.upsert(input);
      const key = { user: 'returning', package: 'crm', endpointHash };
      expect(await store.deactivate(key, 'push-service-410')).to.equal(true);
      expect(await store.countActive('returning', 'crm')).to.equal(0);

      await store.upsert(input);

      const [row] = await store.list('returning', 'crm');
      expect(row?.active).to.equal('Y');
      expect(row?.deactivatedReason).to.equal(null);
      expect(await store.countActive('returning', 'crm')).to.equal(1);
    });

    it('soft-deletes: the row stays, inactive, with its reason', async function () {
      const { endpointHash } = await store.upsert(subscription({ user: 'leaver' }));
      await store.deactivate({ user: 'leaver', package: 'crm', endpointHash }, 'unsubscribed');

      const rows = await store.list('leaver', 'crm');
      expect(rows).to.have.length(1);
      expect(rows[0]).to.include({ active: 'N', deactivatedReason: 'unsubscribed' });
      expect(await store.listActive('crm', ['leaver'])).to.deep.equal([]);
    });

    it('reports false when deactivating a subscription that does not exist', async function () {
      const key = { user: 'nobody', package: 'crm', endpointHash: hashEndpoint('https://x.invalid/') };
      expect(await store.deactivate(key, 'unsubscribed')).to.equal(false);
    });

    it('lists subscriptions without key material', async function () {
      await store.upsert(subscription({ user: 'lister', package: 'billing', module: 'invoices' }));
      const [row] = await store.list('lister', 'billing');

      expect(row).to.include({ user: 'lister', package: 'billing', module: 'invoices', active: 'Y' });
      expect(row).to.not.have.any.keys('p256dh', 'auth');
    });

    it('keeps apart endpoints longer than 255 characters that share a long prefix', async function () {
      const prefix = `https://fcm.googleapis.com/fcm/send/${'x'.repeat(400)}`;
      const a = subscription({ user: 'long', endpoint: `${prefix}A` });
      const b = subscription({ user: 'long', endpoint: `${prefix}B` });
      await store.upsert(a);
      await store.upsert(b);

      const endpoints = (await store.listActive('crm', ['long'])).map((s) => s.endpoint).sort();
      expect(endpoints).to.deep.equal([a.endpoint, b.endpoint].sort());
    });

    it('keys by (user, package, endpoint): the same endpoint under another user or package is another row', async function () {
      const endpoint = `https://fcm.googleapis.com/fcm/send/shared-${Date.now()}`;
      await store.upsert(subscription({ user: 'u1', package: 'crm', endpoint }));
      await store.upsert(subscription({ user: 'u2', package: 'crm', endpoint }));
      await store.upsert(subscription({ user: 'u1', package: 'billing', endpoint }));

      expect(await store.countActive('u1', 'crm')).to.equal(1);
      expect(await store.countActive('u2', 'crm')).to.equal(1);
      expect(await store.countActive('u1', 'billing')).to.equal(1);
    });

    it('lists the active subscriptions of several users of one package in one call, and nobody else\'s', async function () {
      const run = Math.random().toString(36).slice(2, 8);
      const [a, b, c] = ['a', 'b', 'c'].map((name) => `multi-${name}-${run}`) as [string, string, string];
      const expiresAt = new Date('2031-05-06T07:08:09.123Z');
      const a1 = subscription({ user: a, vapidKeyId: 7, expirationTime: expiresAt });
      const a2 = subscription({ user: a });
      const b1 = subscription({ user: b });
      const aGone = subscription({ user: a });
      const gone = await store.upsert(aGone);
      await store.deactivate({ user: a, package: 'crm', endpointHash: gone.endpointHash }, 'unsubscribed');
      for (const s of [a1, a2, b1]) await store.upsert(s);
      // A third user of the package, and the same users in another package: not asked for.
      await store.upsert(subscription({ user: c }));
      await store.upsert(subscription({ user: a, package: 'billing' }));
      await store.upsert(subscription({ user: b, package: 'billing', endpoint: b1.endpoint }));

      const rows = await store.listActive('crm', [a, b]);

      const expected = [a1, a2, b1].map((s) => ({
        user: s.user,
        package: 'crm',
        endpointHash: hashEndpoint(s.endpoint),
        endpoint: s.endpoint,
        p256dh: s.p256dh,
        auth: s.auth,
        vapidKeyId: s.vapidKeyId,
        expirationTime: s.expirationTime,
      }));
      const byEndpoint = (x: { endpoint: string }, y: { endpoint: string }) => x.endpoint.localeCompare(y.endpoint);
      expect([...rows].sort(byEndpoint)).to.deep.equal(expected.sort(byEndpoint));
      expect(rows.map((r) => r.user)).to.not.include(c);
      expect(await store.listActive('crm', [c])).to.have.length(1);
      expect(await store.listActive('crm', [])).to.deep.equal([]);
    });

    it('records successes for exactly the given (user, endpoint) pairs of the package, in one call', async function () {
      const run = Math.random().toString(36).slice(2, 8);
      const [a, b, c] = ['a', 'b', 'c'].map((name) => `succ-${name}-${run}`) as [string, string, string];
      const shared = subscription({ user: a });
      const a1 = await store.upsert(shared);
      const a2 = await store.upsert(subscription({ user: a }));
      const aLeftOut = await store.upsert(subscription({ user: a }));
      const b1 = await store.upsert(subscription({ user: b }));
      // The endpoint of (a, a1) subscribed under other users and in another package: other rows.
      await store.upsert({ ...subscription({ user: b }), endpoint: shared.endpoint });
      await store.upsert({ ...subscription({ user: c }), endpoint: shared.endpoint });
      await store.upsert({ ...subscription({ user: a, package: 'billing' }), endpoint: shared.endpoint });
      const everyRow = async () => [
        ...(await store.list(a, undefined)),
        ...(await store.list(b, undefined)),
        ...(await store.list(c, undefined)),
      ];
      for (const row of await everyRow()) {
        const key = { user: row.user, package: row.package, endpointHash: row.endpointHash };
        await store.recordFailure(key);
        await store.recordFailure(key);
      }

      const at = new Date('2026-11-24T11:12:13.456Z');
      const given = [
        { user: a, endpointHash: a1.endpointHash },
        { user: a, endpointHash: a2.endpointHash },
        { user: b, endpointHash: b1.endpointHash },
      ];
      await store.recordSuccesses('crm', given, at);

      const rows = await everyRow();
      expect(rows).to.have.length(7);
      const isGiven = (r: { user: string; package: string; endpointHash: string }) =>
        r.package === 'crm' && given.some((g) => g.user === r.user && g.endpointHash === r.endpointHash);
      expect(rows.filter(isGiven)).to.have.length(3);
      for (const row of rows) {
        const where = `${row.user}/${row.package}/${row.endpointHash.slice(0, 8)}`;
        if (isGiven(row)) {
          expect(row.lastSuccessAt?.toISOString(), where).to.equal(at.toISOString());
          expect(row.failureCount, where).to.equal(0);
        } else {
          expect(row.lastSuccessAt, where).to.equal(null);
          expect(row.failureCount, where).to.equal(2);
        }
      }
      // The left-out subscription of a listed user, and the shared endpoint under b and c.
      const untouched = rows.filter((r) => !isGiven(r));
      expect(untouched.map((r) => `${r.user} ${r.package} ${r.endpointHash}`).sort()).to.deep.equal(
        [
          `${a} crm ${aLeftOut.endpointHash}`,
          `${b} crm ${a1.endpointHash}`,
          `${c} crm ${a1.endpointHash}`,
          `${a} billing ${a1.endpointHash}`,
        ].sort(),
      );
    });

    it('reads and records 1,200 users in one call each (more than one statement chunk, one list)', async function () {
      this.timeout(60_000);
      const run = Math.random().toString(36).slice(2, 8);
      const users = Array.from({ length: 1_200 }, (_, i) => `bulk-${run}-${i}`);
      const stored = await store.upsertMany(users.map((user) => subscription({ user })));

      const rows = await store.listActive('crm', users);
      expect(new Set(rows.map((r) => r.user))).to.deep.equal(new Set(users));
      expect(rows.map((r) => r.endpointHash).sort()).to.deep.equal(stored.map((s) => s.endpointHash).sort());

      const at = new Date('2026-11-24T01:02:03.004Z');
      const given = rows.slice(0, 1_100);
      await store.recordSuccesses('crm', given, at);
      const givenUsers = new Set(given.map((r) => r.user));
      const expected = users.map((user) => (givenUsers.has(user) ? at.toISOString() : null));
      const recorded = await Promise.all(
        users.map(async (user) => (await store.list(user, 'crm'))[0]!.lastSuccessAt?.toISOString() ?? null),
      );
      expect(recorded).to.deep.equal(expected);
      expect(expected.filter((t) => t === null)).to.have.length(100);
    });

    it('stores an endpoint of the full 2048 characters', async function () {
      const endpoint = `https://fcm.googleapis.com/fcm/send/${'y'.repeat(2048 - 36)}`;
      expect(endpoint).to.have.length(2048);
      await store.upsert(subscription({ user: 'maxlen', endpoint }));
      const [row] = await store.listActive('crm', ['maxlen']);
      expect(row?.endpoint).to.equal(endpoint);
    });

    it('writes many subscribes at once: created, kept reminders and totals per input, in order', async function () {
      const user = `batch-${Math.random().toString(36).slice(2)}`;
      const existing = subscription({ user, reminder: { utcHour: 7, minute: 30, type: 'DAILY_CHECK', message: null } });
      await store.upsert(existing);
      const fresh = subscription({ user });
      const other = subscription({ user: `${user}-other` });
      const results = await store.upsertMany([
        { ...existing, reminder: undefined, module: 'renewed' },
        fresh,
        { ...fresh, module: 'again' },
        other,
        { ...subscription({ user }), reminder: { utcHour: 23, minute: 0, type: 'DIRECT_NOTIFICATION', message: 'hi' } },
      ]);

      expect(results.map((r) => r.created)).to.deep.equal([false, true, false, true, true]);
      expect(results.map((r) => r.total)).to.deep.equal([3, 3, 3, 1, 3]);
      expect(results[0]!.reminder, 'kept by a re-registration without reminder fields').to.deep.equal({
        utcHour: 7, minute: 30, type: 'DAILY_CHECK', message: null,
      });
      expect(results[1]!.reminder).to.equal(null);
      expect(results[4]!.reminder?.message).to.equal('hi');
      expect(results[2]!.endpointHash).to.equal(hashEndpoint(fresh.endpoint));
      const rows = await store.list(user, 'crm');
      expect(rows).to.have.length(3);
      expect(rows.find((r) => r.endpointHash === hashEndpoint(fresh.endpoint))?.module, 'the later of two equal keys wins').to.equal('again');
      expect(rows.find((r) => r.endpointHash === hashEndpoint(existing.endpoint))?.module).to.equal('renewed');
    });

    it('turns two simultaneous first subscribes of one endpoint into one row', async function () {
      const input = subscription({ user: 'racer' });
      const results = await Promise.all([store.upsert(input), store.upsert(input), store.upsert(input)]);

      expect(results.filter((r) => r.created)).to.have.length(1);
      expect(await store.countActive('racer', 'crm')).to.equal(1);
    });

    it('deactivates subscriptions past their expirationTime or with no success for too long, and nothing else', async function () {
      const day = 24 * 3600 * 1000;
      const now = new Date();
      const staleBefore = new Date(now.getTime() - 60 * day);
      const user = `sweep-${Math.random().toString(36).slice(2)}`;
      const key = (endpointHash: string) => ({ user, package: 'crm', endpointHash });
      const expired = await store.upsert(subscription({ user, expirationTime: new Date(now.getTime() - day) }));
      const valid = await store.upsert(subscription({ user, expirationTime: new Date(now.getTime() + day) }));
      const neverSent = await store.upsert(subscription({ user }));
      const recent = await store.upsert(subscription({ user }));
      await store.recordSuccesses('crm', [{ user, endpointHash: recent.endpointHash }], new Date(now.getTime() - day));
      const stale = await store.upsert(subscription({ user }));
      await store.recordSuccesses('crm', [{ user, endpointHash: stale.endpointHash }], new Date(now.getTime() - 70 * day));

      while ((await store.deactivateStale(staleBefore, now, 1)) > 0);

      const rows = new Map((await store.list(user, 'crm')).map((r) => [r.endpointHash, r]));
      expect(rows.get(expired.endpointHash)).to.include({ active: 'N', deactivatedReason: 'subscription-expired' });
      expect(rows.get(stale.endpointHash)).to.include({ active: 'N', deactivatedReason: 'stale' });
      for (const kept of [valid, neverSent, recent]) expect(rows.get(kept.endpointHash)?.active).to.equal('Y');
    });

    it('keeps users whose names differ only in case apart', async function () {
      const upper = await store.upsert(subscription({ user: 'CaseUser' }));
      await store.upsert(subscription({ user: 'caseuser' }));

      const found = await store.listActive('crm', ['CaseUser']);
      expect(found.map((s) => s.endpointHash)).to.deep.equal([upper.endpointHash]);
      expect(await store.countActive('CaseUser', 'crm')).to.equal(1);
    });

    it('records a success and clears the failure count', async function () {
      const { endpointHash } = await store.upsert(subscription({ user: 'counted' }));
      const key = { user: 'counted', package: 'crm', endpointHash };
      await store.recordFailure(key);
      await store.recordFailure(key);
      expect((await store.list('counted', 'crm'))[0]?.failureCount).to.equal(2);

      const at = new Date('2026-11-23T10:00:00.123Z');
      await store.recordSuccesses('crm', [{ user: 'counted', endpointHash }], at);

      const [row] = await store.list('counted', 'crm');
      expect(row?.failureCount).to.equal(0);
      expect(row?.lastSuccessAt?.toISOString()).to.equal(at.toISOString());
    });
  });
}

describe('SubscriptionStore on SQLite, its statements prepared once', function () {
  let testDb: TestDatabase;
  let database: Database;

  before(async function () {
    testDb = await createTestDatabase('sqlite');
    database = await startDatabase(testDb.config, testLogger());
  });

  after(async function () {
    if (database?.dataSource.isInitialized) await database.close();
    await testDb?.drop();
  });

  it('answers a clear error while the database is closed, and works again once it is reopened', async function () {
    const store = createSubscriptionStore(database.dataSource);
    const input = subscription({ user: 'reopened' });
    const { endpointHash } = await store.upsert(input);
    expect(await store.listActive('crm', ['reopened'])).to.have.length(1);

    await database.dataSource.destroy();
    let failure: unknown;
    await store.listActive('crm', ['reopened']).catch((err: unknown) => (failure = err));
    expect(String(failure)).to.match(/SQLite database is not open/);

    // A new connection: the statements of the old one must not be used on it.
    await database.dataSource.initialize();
    const at = new Date('2026-11-24T05:06:07.008Z');
    await store.recordSuccesses('crm', [{ user: 'reopened', endpointHash }], at);
    const [row] = await store.listActive('crm', ['reopened']);
    expect(row?.endpointHash).to.equal(endpointHash);
    expect((await store.list('reopened', 'crm'))[0]?.lastSuccessAt?.toISOString()).to.equal(at.toISOString());
  });
});
