import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { createSettledLedger } from '../../services/push-worker/settled-ledger.js';
import { TEST_REDIS_URL } from '../support/test-databases.js';

describe('createSettledLedger', function () {
  let redis: Redis;
  let prefix: string;

  beforeEach(function () {
    redis = new Redis(TEST_REDIS_URL);
    prefix = `test-${randomUUID()}`;
  });

  afterEach(async function () {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('keeps every outcome of several jobs settled in the same turn and in later ones', async function () {
    const ledger = createSettledLedger(redis, prefix);
    const keepUntil = Date.now() + 60_000;

    await Promise.all([
      ledger.add('job-1', 'a', 'sent', keepUntil),
      ledger.add('job-1', 'b', 'gone', keepUntil),
      ledger.add('job-2', 'c', 'rejected', keepUntil),
    ]);
    await ledger.add('job-1', 'd', 'blocked', keepUntil);

    expect(Object.fromEntries(await ledger.load('job-1'))).to.deep.equal({ a: 'sent', b: 'gone', d: 'blocked' });
    expect(Object.fromEntries(await ledger.load('job-2'))).to.deep.equal({ c: 'rejected' });
  });

  it("lets each job's entries expire an hour after the event's TTL, also after later writes", async function () {
    const ledger = createSettledLedger(redis, prefix);
    const keepUntil = Date.now() + 60_000;

    await ledger.add('job-1', 'a', 'sent', keepUntil);
    await ledger.add('job-1', 'b', 'sent', keepUntil);

    const expiresAt = await redis.pexpiretime(`${prefix}:push-settled:job-1`);
    expect(expiresAt).to.equal(keepUntil + 3_600_000);
  });

  it('rejects each add of a batch that could not be written', async function () {
    const ledger = createSettledLedger(redis, prefix);
    await redis.set(`${prefix}:push-settled:job-1`, 'not a hash');

    const outcome = await ledger.add('job-1', 'a', 'sent', Date.now() + 60_000).then(
      () => 'written',
      (err: Error) => err.message,
    );

    expect(outcome).to.match(/WRONGTYPE/);
  });
});
