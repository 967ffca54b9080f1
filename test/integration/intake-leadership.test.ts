import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { startLeadership } from '../../services/notify-router/intake-leadership.js';
import { PrivateRedisServer } from '../support/private-redis-server.js';
import { testLogger } from '../support/silent-logger.js';

describe('the MQTT intake lease', function () {
  this.timeout(20_000);
  let server: PrivateRedisServer;
  const connections: Redis[] = [];

  beforeEach(async function () {
    server = await new PrivateRedisServer().start();
  });

  afterEach(async function () {
    server.thaw();
    for (const redis of connections.splice(0)) redis.disconnect();
    await server.remove();
  });

  function router(events: string[], leaseMs: number, startMs = 0) {
    const redis = new Redis(server.url, { maxRetriesPerRequest: null });
    redis.on('error', () => undefined);
    connections.push(redis);
    return startLeadership({
      redis,
      key: 'lease',
      holder: randomUUID(),
      leaseMs,
      log: testLogger(),
      onGain: async () => {
        await new Promise((r) => setTimeout(r, startMs));
        events.push(`gain@${Date.now()}`);
      },
      onLose: async () => void events.push(`lose@${Date.now()}`),
    });
  }

  it('lets one router hold the intake, and hands it over when that router stops', async function () {
    const a: string[] = [];
    const b: string[] = [];
    const first = router(a, 1_000);
    await first.ready;
    const second = router(b, 1_000);
    await second.ready;
    expect([a.length, b.length]).to.deep.equal([1, 0]);

    await first.close();
    await new Promise((r) => setTimeout(r, 700));
    expect(b.map((e) => e.split('@')[0])).to.deep.equal(['gain']);
    await second.close();
  });

  it('stops its intake before the lease can run out when Redis stops answering', async function () {
    const events: string[] = [];
    const leadership = router(events, 1_500);
    await leadership.ready;
    const frozenAt = Date.now();
    server.freeze();

    const deadline = Date.now() + 3_000;
    while (events.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(events.map((e) => e.split('@')[0])).to.deep.equal(['gain', 'lose']);
    const gainedAt = Number(events[0]!.split('@')[1]);
    // Stopped no later than the lease it last renewed (at most 1.5 s before the freeze) allows.
    expect(Number(events[1]!.split('@')[1])).to.be.at.most(Math.max(gainedAt, frozenAt) + 1_500);
    server.thaw();
    await leadership.close();
  });

  it('stops what it started at once when the intake took longer than the lease to start', async function () {
    const slow: string[] = [];
    const leadership = router(slow, 1_000, 1_500);
    await leadership.ready;
    await new Promise((r) => setTimeout(r, 1_000));
    await leadership.close();
    await new Promise((r) => setTimeout(r, 1_600));

    const kinds = slow.map((e) => e.split('@')[0]);
    expect(kinds.length).to.be.at.least(2);
    // Every start that came too late was stopped again at once: gain, lose, gain, lose …
    expect(kinds).to.deep.equal(kinds.map((_, i) => (i % 2 === 0 ? 'gain' : 'lose')));
    const at = slow.map((e) => Number(e.split('@')[1]));
    for (let i = 1; i < at.length; i += 2) expect(at[i]! - at[i - 1]!).to.be.below(100);
  });
});
