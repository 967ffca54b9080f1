import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { createRedeliveryIds } from '../../services/notify-router/accept-mqtt-event.js';
import { obliterateQueues } from '../support/queues.js';
import { TEST_REDIS_URL } from '../support/test-databases.js';

describe('redelivery notes in Redis', function () {
  let redis: Redis;
  let prefix: string;
  let clock: number;

  beforeEach(function () {
    redis = new Redis(TEST_REDIS_URL);
    prefix = `test-${randomUUID()}`;
    // A second before a period ends, in real time: the notes expire in Redis by the real clock.
    clock = Math.floor(Date.now() / 300_000) * 300_000 + 299_000;
  });

  afterEach(async function () {
    await obliterateQueues(redis, prefix);
    await redis.quit();
  });

  const payload = Buffer.from('{"title":"x"}');

  it('finds what a delivery noted, across the next periods, newest note first', async function () {
    const notes = createRedeliveryIds(redis, prefix, () => clock);
    await notes.remember('axion/crm/notify/user/a', 7, payload, { id: 'first', published: false });
    clock += 60_000;
    await notes.remember('axion/crm/notify/user/a', 7, payload, { id: 'second', published: true });
    clock += 9 * 60_000;

    expect(await notes.lookUp('axion/crm/notify/user/a', 7, payload)).to.deep.equal({ id: 'second', published: true });
    expect(await notes.lookUp('axion/crm/notify/user/a', 8, payload)).to.equal(null);
    expect(await notes.lookUp('axion/crm/notify/user/b', 7, payload)).to.equal(null);
  });

  it('forgets a note after its periods have passed, and lets Redis expire them', async function () {
    const notes = createRedeliveryIds(redis, prefix, () => clock);
    await notes.remember('axion/crm/notify/user/a', 7, payload, { id: 'old', published: true });
    clock += 16 * 60_000;

    expect(await notes.lookUp('axion/crm/notify/user/a', 7, payload)).to.equal(null);
    const [key] = await redis.keys(`${prefix}:mqtt-deliveries:*`);
    expect(await redis.pttl(key!)).to.be.greaterThan(0);
  });
});
