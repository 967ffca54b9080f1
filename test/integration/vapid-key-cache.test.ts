import { expect } from 'chai';
import { createVapidKeyCache } from '../../services/push-worker/vapid-key-cache.js';
import {
  createVapidKeyStore,
  startDatabase,
  type Database,
  type DeliverableSubscription,
  type VapidKey,
  type VapidKeyStore,
} from '../../shared/database/index.js';
import { testLogger } from '../support/silent-logger.js';
import { createTestDatabase, type TestDatabase } from '../support/test-databases.js';

/** The real store, with its reads counted (and, while `failing` is set, refused). */
function countedStore(store: VapidKeyStore) {
  const reads = { byId: 0, current: 0 };
  const state = { failing: false };
  const counted: VapidKeyStore = {
    ...store,
    async byId(id) {
      reads.byId++;
      if (state.failing) throw new Error('database unavailable');
      return store.byId(id);
    },
    async current(pkg) {
      reads.current++;
      if (state.failing) throw new Error('database unavailable');
      return store.current(pkg);
    },
  };
  return { counted, reads, state };
}

function subscriptionOf(pkg: string, vapidKeyId: number | null, user = 'alice'): DeliverableSubscription {
  return {
    user,
    package: pkg,
    endpointHash: `hash-${user}`,
    endpoint: `https://fcm.googleapis.com/fcm/send/${user}`,
    p256dh: 'p256dh',
    auth: 'auth',
    vapidKeyId,
    expirationTime: null,
  };
}

const users = (count: number) => Array.from({ length: count }, (_, i) => `user-${i}`);

describe('VAPID key cache of the push-worker (SQLite)', function () {
  let testDb: TestDatabase;
  let database: Database;
  let store: VapidKeyStore;
  const pkg = `cache-${process.pid}-${Date.now()}`;

  before(async function () {
    testDb = await createTestDatabase('sqlite');
    database = await startDatabase(testDb.config, testLogger());
    store = createVapidKeyStore(database.dataSource);
  });

  after(async function () {
    await database?.close();
    await testDb?.drop();
  });

  it("shares one read among a job's first sends of the same key, then answers without a promise", async function () {
    const key = await store.current(pkg);
    const { counted, reads } = countedStore(store);
    const keyFor = createVapidKeyCache(counted);

    const answers = await Promise.all(users(400).map((user) => keyFor(subscriptionOf(pkg, key.id, user))));

    expect(reads.byId).to.equal(1);
    expect(answers.every((answer) => answer.id === key.id && answer.privateKey === key.privateKey)).to.equal(true);
    const cached = keyFor(subscriptionOf(pkg, key.id));
    expect(cached).not.to.be.instanceOf(Promise);
    expect((cached as VapidKey).publicKey).to.equal(key.publicKey);
    expect(reads.byId).to.equal(1);
  });

  it("shares one read of a package's current key among subscriptions made before keys were tracked", async function () {
    const key = await store.current(pkg);
    const { counted, reads } = countedStore(store);
    const keyFor = createVapidKeyCache(counted);

    const answers = await Promise.all(users(50).map((user) => keyFor(subscriptionOf(pkg, null, user))));

    expect(reads.current).to.equal(1);
    expect(answers.every((answer) => answer.id === key.id)).to.equal(true);
  });

  it('fails every waiting send when the shared read fails, and reads again on the next ask', async function () {
    const key = await store.current(pkg);
    const { counted, reads, state } = countedStore(store);
    const keyFor = createVapidKeyCache(counted);

    state.failing = true;
    const failed = await Promise.allSettled(users(10).map((user) => keyFor(subscriptionOf(pkg, key.id, user))));
    expect(failed.map((result) => result.status)).to.deep.equal(new Array(10).fill('rejected'));
    expect(reads.byId).to.equal(1);

    state.failing = false;
    const again = await keyFor(subscriptionOf(pkg, key.id));
    expect(again.id).to.equal(key.id);
    expect(reads.byId).to.equal(2);
  });

  it("falls back to each package's own current key for a key id that is not stored", async function () {
    const other = `${pkg}-other`;
    const [key, otherKey] = await Promise.all([store.current(pkg), store.current(other)]);
    const { counted, reads } = countedStore(store);
    const keyFor = createVapidKeyCache(counted);
    const missing = 999_999_999;

    const [mine, theirs] = await Promise.all([
      Promise.all(users(5).map((user) => keyFor(subscriptionOf(pkg, missing, user)))),
      Promise.all(users(5).map((user) => keyFor(subscriptionOf(other, missing, user)))),
    ]);

    expect(mine.map((answer) => answer.id)).to.deep.equal(new Array(5).fill(key.id));
    expect(theirs.map((answer) => answer.id)).to.deep.equal(new Array(5).fill(otherKey.id));
    expect(reads.byId).to.equal(1);
    expect(reads.current).to.equal(2);
  });
});
