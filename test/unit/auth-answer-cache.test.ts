import { expect } from 'chai';
import { createAnswerCache } from '../../shared/answer-cache/index.js';

describe('createAnswerCache', () => {
  let now = 0;
  const clock = () => now;
  /** A lookup that answers `value` and counts its calls. */
  const counted = (value: string, ttlMs = 1_000) => {
    const lookup = async () => {
      lookup.calls += 1;
      return { value, ttlMs };
    };
    lookup.calls = 0;
    return lookup;
  };

  beforeEach(() => {
    now = 0;
  });

  it('reuses an answer until its time is up, then asks again', async () => {
    const cache = createAnswerCache<string>({ maxEntries: 10, now: clock });
    const lookup = counted('alice');

    await cache.get('k', lookup);
    now = 999;
    await cache.get('k', lookup);
    expect(lookup.calls).to.equal(1);
    now = 1_000;
    expect(await cache.get('k', lookup)).to.equal('alice');
    expect(lookup.calls).to.equal(2);
  });

  it('shares one lookup among callers asking for the same key at once', async () => {
    const cache = createAnswerCache<string>({ maxEntries: 10, now: clock });
    const lookup = counted('alice');

    const answers = await Promise.all([cache.get('k', lookup), cache.get('k', lookup), cache.get('k', lookup)]);
    expect(answers).to.deep.equal(['alice', 'alice', 'alice']);
    expect(lookup.calls).to.equal(1);
  });

  it('peeks at a cached answer without a promise while it holds, and at nothing before or after', async () => {
    const cache = createAnswerCache<string>({ maxEntries: 10, now: clock });
    expect(cache.peek('k')).to.equal(undefined);

    await cache.get('k', counted('alice'));
    now = 999;
    expect(cache.peek('k')).to.equal('alice');
    now = 1_000;
    expect(cache.peek('k')).to.equal(undefined);
  });

  it('keeps nothing for an answer with no time to live', async () => {
    const cache = createAnswerCache<string>({ maxEntries: 10, now: clock });
    const lookup = counted('unavailable', 0);

    await cache.get('k', lookup);
    await cache.get('k', lookup);
    expect(lookup.calls).to.equal(2);
  });

  it('drops the oldest entry when full', async () => {
    const cache = createAnswerCache<string>({ maxEntries: 2, now: clock });
    const first = counted('1');
    await cache.get('a', first);
    await cache.get('b', counted('2'));
    await cache.get('c', counted('3'));

    await cache.get('a', first);
    expect(first.calls).to.equal(2);
  });

  it('asks again after a lookup that failed', async () => {
    const cache = createAnswerCache<string>({ maxEntries: 10, now: clock });
    let calls = 0;
    const failing = async () => {
      calls += 1;
      throw new Error('down');
    };
    await cache.get('k', failing).catch(() => undefined);
    await cache.get('k', failing).catch(() => undefined);
    expect(calls).to.equal(2);
  });
});
