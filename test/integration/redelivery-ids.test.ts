import { expect } from 'chai';
import { Redis } from 'ioredis';
import { createRedeliveryIds, deliveryKey } from '../../services/notify-router/accept-mqtt-event.js';
import { redisPerTest } from '../support/queues.js';
import { TEST_REDIS_URL } from '../support/test-databases.js';

describe('redelivery notes in Redis', function () {
  const scope = redisPerTest(TEST_REDIS_URL);
  let clock: number;

  beforeEach(function () {
    // A second before a period ends, in real time: the notes expire in Redis by the real clock.
    clock = Math.floor(Date.now() / 60_000) * 60_000 + 59_000;
  });

  const payload = Buffer.from('{"title":"x"}');
  const a7 = deliveryKey('axion/crm/notify/user/a', 7, payload);

  it('finds what a delivery noted, across the next periods, newest note first', async function () {
    const notes = createRedeliveryIds(scope.redis, scope.prefix, () => clock);
    await notes.remember(a7, { id: 'first', published: false });
    clock += 30_000;
    await notes.remember(a7, { id: 'second', published: true });
    clock += 90_000;

    expect(await notes.lookUp(a7)).to.deep.equal({ id: 'second', published: true });
    expect(await notes.lookUp(deliveryKey('axion/crm/notify/user/a', 8, payload))).to.equal(null);
    expect(await notes.lookUp(deliveryKey('axion/crm/notify/user/b', 7, payload))).to.equal(null);
  });

  it('forgets a note after its periods have passed, and lets Redis expire them', async function () {
    const notes = createRedeliveryIds(scope.redis, scope.prefix, () => clock);
    await notes.remember(a7, { id: 'old', published: true });
    clock += 4 * 60_000;

    expect(await notes.lookUp(a7)).to.equal(null);
    const [key] = await scope.redis.keys(`${scope.prefix}:mqtt-deliveries:*`);
    expect(await scope.redis.pttl(key!)).to.be.greaterThan(0);
  });
});
