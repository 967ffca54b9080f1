import { expect } from 'chai';
import { createSendSlots } from '../../services/push-worker/send-slots.js';

describe('createSendSlots', () => {
  it('runs at most `size` pieces of work at once, in arrival order', async () => {
    const slots = createSendSlots(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    const releases: (() => void)[] = [];
    const work = (n: number) =>
      slots.run('https://a.example', async () => {
        running++;
        peak = Math.max(peak, running);
        order.push(n);
        await new Promise<void>((resolve) => releases.push(resolve));
        running--;
      });

    const all = [1, 2, 3, 4, 5].map(work);
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setImmediate(r));
      releases.shift()?.();
    }
    await Promise.all(all);

    expect(peak).to.equal(2);
    expect(order).to.deep.equal([1, 2, 3, 4, 5]);
  });

  it('gives each origin slots of its own: one that never answers holds only its own', async () => {
    const slots = createSendSlots(2);
    const hung = [1, 2, 3].map(() => slots.run('https://slow.example', () => new Promise<never>(() => undefined)));
    const others = await Promise.all([1, 2, 3, 4].map((n) => slots.run('https://fast.example', async () => n)));
    expect(others).to.deep.equal([1, 2, 3, 4]);
    expect(hung).to.have.length(3);
  });

  it('gives the slot back when the work fails', async () => {
    const slots = createSendSlots(1);
    await slots.run('https://a.example', async () => Promise.reject(new Error('boom'))).catch(() => undefined);
    expect(await slots.run('https://a.example', async () => 'next')).to.equal('next');
  });

  it('gives the slot back when the work throws before it returns a promise', async function () {
    const slots = createSendSlots(1);
    const thrown = await slots
      .run('https://a.example', () => {
        throw new Error('boom');
      })
      .catch((err: Error) => err.message);
    expect(thrown).to.equal('boom');
    expect(await slots.run('https://a.example', async () => 'next')).to.equal('next');
  });
});
