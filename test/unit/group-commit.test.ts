import { expect } from 'chai';
import { createGroupCommit } from '../../shared/group-commit/index.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('group commit', function () {
  it('commits a lone input at once, and what arrives meanwhile together in the next commit', async function () {
    const batches: number[][] = [];
    let release: () => void = () => undefined;
    const commit = createGroupCommit(async (inputs: number[]) => {
      batches.push(inputs);
      if (batches.length === 1) await new Promise<void>((resolve) => (release = resolve));
      return inputs.map((n) => n * 10);
    }, { maxBatch: 3 });

    const first = commit(1);
    await tick();
    const rest = [2, 3, 4, 5].map((n) => commit(n));
    await tick();
    expect(batches, 'the later inputs wait for the running commit').to.deep.equal([[1]]);
    release();
    expect(await Promise.all([first, ...rest])).to.deep.equal([10, 20, 30, 40, 50]);
    expect(batches).to.deep.equal([[1], [2, 3, 4], [5]]);
  });

  it('rejects every input of a failed commit and goes on with the next', async function () {
    let calls = 0;
    const commit = createGroupCommit(async (inputs: string[]) => {
      calls += 1;
      if (calls === 1) throw new Error('database down');
      return inputs.map((s) => s.toUpperCase());
    }, { maxBatch: 10 });

    const failed = await Promise.allSettled([commit('a'), commit('b')]);
    expect(failed.map((r) => r.status)).to.deep.equal(['rejected', 'rejected']);
    expect(await commit('c')).to.equal('C');
  });
});
