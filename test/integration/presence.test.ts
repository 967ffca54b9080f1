import { expect } from 'chai';
import { Redis } from 'ioredis';
import { createPresenceReader, createPresenceTracker } from '../../shared/presence/index.js';
import { redisPerTest } from '../support/queues.js';
import { TEST_REDIS_URL } from '../support/test-databases.js';

describe('presence in Redis', function () {
  const scope = redisPerTest(TEST_REDIS_URL);

  const tracker = (brokerId: string, ttlMs = 30_000, heartbeatMs = 10_000) =>
    createPresenceTracker({ redis: scope.redis, prefix: scope.prefix, brokerId, ttlMs, heartbeatMs, onError: (err) => { throw err; } });

  it('counts a user online while one of their sessions is in, across brokers', async function () {
    const reader = createPresenceReader(scope.redis, scope.prefix);
    const a = tracker('broker-a');
    const b = tracker('broker-b');
    a.join('crm', 'alice', 'tab-1');
    b.join('crm', 'alice', 'tab-2');
    await new Promise((r) => setTimeout(r, 50));
    expect(await reader.online('crm', ['alice', 'bob'])).to.deep.equal(new Set(['alice']));

    a.leaveClient('tab-1');
    await new Promise((r) => setTimeout(r, 50));
    expect(await reader.online('crm', ['alice'])).to.deep.equal(new Set(['alice']));

    b.leave('crm', 'alice', 'tab-2');
    await new Promise((r) => setTimeout(r, 50));
    expect(await reader.online('crm', ['alice'])).to.deep.equal(new Set());
    await Promise.all([a.close(), b.close()]);
  });

  it("forgets the sessions of a broker that stopped sending heartbeats, within the TTL", async function () {
    const reader = createPresenceReader(scope.redis, scope.prefix);
    // A broker that dies: it never refreshes and never cleans up.
    const dead = tracker('broker-dead', 300, 60_000);
    dead.join('crm', 'carol', 'tab-1');
    await new Promise((r) => setTimeout(r, 50));
    expect(await reader.online('crm', ['carol'])).to.deep.equal(new Set(['carol']));

    await new Promise((r) => setTimeout(r, 400));
    expect(await reader.online('crm', ['carol'])).to.deep.equal(new Set());
    await dead.close();
  });

  it('keeps a live broker\'s sessions beyond the TTL by its heartbeat', async function () {
    const reader = createPresenceReader(scope.redis, scope.prefix);
    const live = tracker('broker-live', 300, 100);
    live.join('crm', 'dave', 'tab-1');
    await new Promise((r) => setTimeout(r, 700));
    expect(await reader.online('crm', ['dave'])).to.deep.equal(new Set(['dave']));

    await live.close();
    expect(await reader.online('crm', ['dave'])).to.deep.equal(new Set());
  });
});
