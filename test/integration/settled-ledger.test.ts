import { expect } from 'chai';
import { createSettledLedger } from '../../services/push-worker/settled-ledger.js';
import { redisPerTest } from '../support/queues.js';
import { TEST_REDIS_URL } from '../support/test-databases.js';

describe('createSettledLedger', function () {
  const scope = redisPerTest(TEST_REDIS_URL);

  it('keeps every outcome of several jobs settled in the same turn and in later ones', async function () {
    const ledger = createSettledLedger(scope.redis, scope.prefix);
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
    const ledger = createSettledLedger(scope.redis, scope.prefix);
    const keepUntil = Date.now() + 60_000;

    await ledger.add('job-1', 'a', 'sent', keepUntil);
    await ledger.add('job-1', 'b', 'sent', keepUntil);

    const expiresAt = await scope.redis.pexpiretime(`${scope.prefix}:push-settled:job-1`);
    expect(expiresAt).to.equal(keepUntil + 3_600_000);
  });

  it('rejects each add of a batch that could not be written', async function () {
    const ledger = createSettledLedger(scope.redis, scope.prefix);
    await scope.redis.set(`${scope.prefix}:push-settled:job-1`, 'not a hash');

    const outcome = await ledger.add('job-1', 'a', 'sent', Date.now() + 60_000).then(
      () => 'written',
      (err: Error) => err.message,
    );

    expect(outcome).to.match(/WRONGTYPE/);
  });
});
