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

  it('sends the entries that settle while a write is under way together in the next write', async function () {
    // The writes the ledger makes, counted on their way to the real Redis.
    let writes = 0;
    const counted = new Proxy(scope.redis, {
      get(target, name) {
        const member = Reflect.get(target, name, target) as unknown;
        if ((name === 'hset' || name === 'pipeline') && typeof member === 'function') {
          return (...args: unknown[]) => {
            writes++;
            return (member as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return typeof member === 'function' ? (member as (...a: unknown[]) => unknown).bind(target) : member;
      },
    });
    const ledger = createSettledLedger(counted, scope.prefix);
    const keepUntil = Date.now() + 60_000;
    // Redis holds every write for 100 ms, so the first write is still under way while the
    // other 19 entries settle, each in a turn of its own.
    const pauser = scope.redis.duplicate();
    try {
      await pauser.client('PAUSE', 100, 'WRITE');
      const adds: Promise<void>[] = [];
      for (let i = 0; i < 20; i++) {
        adds.push(ledger.add('job-1', `e${i}`, 'sent', keepUntil));
        await new Promise((resolve) => setImmediate(resolve));
      }
      await Promise.all(adds);
    } finally {
      await pauser.client('UNPAUSE').catch(() => undefined);
      await pauser.quit();
    }

    expect(writes).to.equal(2);
    expect((await ledger.load('job-1')).size).to.equal(20);
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
