import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { createNotificationStore, startDatabase, type Database, type NotificationStore } from '../../shared/database/index.js';
import { eventSchema, type RouteJob } from '../../shared/events/index.js';
import { testLogger } from '../support/silent-logger.js';
import { createTestDatabase, type TestDatabase } from '../support/test-databases.js';

function job(id: string, title: string): RouteJob {
  const { id: _none, ...event } = eventSchema.parse({ title });
  return { id, package: 'crm', target: { user: 'alice' }, event, acceptedAt: '2026-11-23T10:00:00.123Z', source: 'mqtt' };
}

for (const kind of ['mysql', 'sqlite'] as const) {
  describe(`NotificationStore.recordMany on ${kind === 'mysql' ? 'MariaDB' : 'SQLite'}`, function () {
    let testDb: TestDatabase;
    let database: Database;
    let store: NotificationStore;

    before(async function () {
      testDb = await createTestDatabase(kind);
      database = await startDatabase(testDb.config, testLogger());
      store = createNotificationStore(database.dataSource);
    });

    after(async function () {
      await database?.close();
      await testDb?.drop();
    });

    it('stores every new event with one insert and says so', async function () {
      const ids = [randomUUID(), randomUUID(), randomUUID()];

      expect(await store.recordMany(ids.map((id) => job(id, `t ${id}`)))).to.equal('created');

      const stored = await Promise.all(ids.map((id) => store.get(id)));
      expect(stored.map((row) => JSON.parse(row!.event).title)).to.deep.equal(ids.map((id) => `t ${id}`));
      expect(stored[0]!.createdAt.toISOString()).to.equal('2026-11-23T10:00:00.123Z');
    });

    it('leaves a taken id alone and answers what is stored under each id', async function () {
      const taken = randomUUID();
      const fresh = randomUUID();
      await store.recordMany([job(taken, 'first')]);

      const answer = await store.recordMany([job(taken, 'other'), job(fresh, 'new')]);

      expect(answer).to.be.instanceOf(Map);
      const rows = answer as Map<string, { event: string }>;
      expect(JSON.parse(rows.get(taken)!.event).title).to.equal('first');
      expect(JSON.parse(rows.get(fresh)!.event).title).to.equal('new');
    });

    it('keeps ids that differ only in case apart', async function () {
      const base = randomUUID();
      await store.recordMany([job(`Order-${base}`, 'upper')]);

      expect(await store.recordMany([job(`order-${base}`, 'lower')])).to.equal('created');
      expect(JSON.parse((await store.get(`order-${base}`))!.event).title).to.equal('lower');
      expect(JSON.parse((await store.get(`Order-${base}`))!.event).title).to.equal('upper');
    });

    it('stores a target of 1,000 users with the longest names', async function () {
      const id = randomUUID();
      const users = Array.from({ length: 1_000 }, (_, i) => `${i}`.padStart(128, 'u'));

      expect(await store.recordMany([{ ...job(id, 'many'), target: { users } }])).to.equal('created');
      expect(JSON.parse((await store.get(id))!.target).users).to.have.length(1_000);
    });

    it('keeps the first of two events with one id in one batch, and answers the rows to compare', async function () {
      const id = randomUUID();

      const answer = await store.recordMany([job(id, 'first'), job(id, 'second')]);

      expect(answer).to.be.instanceOf(Map);
      expect(JSON.parse((answer as Map<string, { event: string }>).get(id)!.event).title).to.equal('first');
    });
  });
}
