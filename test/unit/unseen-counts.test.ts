import { expect } from 'chai';
import { createUnseenCounts } from '../../services/notify-router/unseen-counts.js';
import { createTopics } from '../../shared/topics/index.js';

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** Unseen counts as the table would answer them now, and the reads made of it. */
class CountingInbox {
  readonly unseen = new Map<string, number>();
  readonly reads: string[][] = [];
  /** Set to hold the next read until `release` is called. */
  hold = false;
  failWith: Error | null = null;
  private released: (() => void) | null = null;

  async countUnseen(_pkg: string, users: readonly string[]): Promise<Map<string, number>> {
    this.reads.push([...users]);
    if (this.failWith) throw this.failWith;
    // Read now; a held read answers what it read, however the table changed meanwhile.
    const read = new Map(users.filter((u) => this.unseen.has(u)).map((u) => [u, this.unseen.get(u)!]));
    if (this.hold) await new Promise<void>((resolve) => (this.released = resolve));
    return read;
  }

  release(): void {
    this.hold = false;
    this.released?.();
  }
}

function arrange() {
  const inbox = new CountingInbox();
  const sent: string[] = [];
  const realtime = {
    async publish(topic: string, payload: string) {
      sent.push(`${topic.split('/')[3]}=${(JSON.parse(payload) as { count: number }).count}`);
    },
  };
  // Windows end when the test says so.
  const windows: (() => void)[] = [];
  const wait = () => new Promise<void>((resolve) => windows.push(resolve));
  const counts = createUnseenCounts({ inbox, realtime, topics: createTopics(), windowMs: 250, wait });
  const endWindow = async () => {
    expect(windows, 'a window is open').to.have.length(1);
    windows.shift()!();
    await settle();
  };
  return { inbox, sent, counts, windows, endWindow };
}

describe('createUnseenCounts', () => {
  it("sends each user one count per window, read once the window has ended, with one read for the window's users", async () => {
    const { inbox, sent, counts, endWindow } = arrange();
    inbox.unseen.set('alice', 1);

    const published = [counts.publish('crm', ['alice']), counts.publish('crm', ['alice', 'bob'])];
    inbox.unseen.set('alice', 3);
    inbox.unseen.set('bob', 1);
    counts.publish('crm', ['alice']).catch(() => undefined);
    await settle();
    expect(sent, 'nothing goes out before the window ends').to.deep.equal([]);
    await endWindow();
    await Promise.all(published);

    expect(inbox.reads).to.deep.equal([['alice', 'bob']]);
    expect(sent).to.deep.equal(['alice=3', 'bob=1']);
  });

  it('sends the count of a change made while a window was being counted in the next window, read after that change', async () => {
    const { inbox, sent, counts, windows, endWindow } = arrange();
    inbox.unseen.set('alice', 1);
    const first = counts.publish('crm', ['alice']);
    inbox.hold = true;
    await endWindow();

    // A new item lands while the first window's read is in flight: that read may miss it.
    inbox.unseen.set('alice', 2);
    const second = counts.publish('crm', ['alice']);
    inbox.release();
    await first;
    expect(sent).to.deep.equal(['alice=1']);
    expect(windows, 'the next window opens after the first is out').to.have.length(1);
    await endWindow();
    await second;

    expect(sent).to.deep.equal(['alice=1', 'alice=2']);
  });

  it('sends the lower count after items are marked seen, in a later window', async () => {
    const { inbox, sent, counts, endWindow } = arrange();
    inbox.unseen.set('alice', 5);
    const routed = counts.publish('crm', ['alice']);
    await endWindow();
    await routed;

    inbox.unseen.set('alice', 0);
    const marked = counts.publish('crm', ['alice']);
    await endWindow();
    await marked;

    expect(sent).to.deep.equal(['alice=5', 'alice=0']);
  });

  it('ends the window at once for a caller that waits (now), sending what else waited with it', async () => {
    const { inbox, sent, counts, windows } = arrange();
    inbox.unseen.set('alice', 2);
    inbox.unseen.set('bob', 1);

    const intake = counts.publish('crm', ['alice']);
    await counts.publish('crm', ['bob'], { now: true });
    await intake;

    expect(windows, 'no window was waited out').to.have.length(1);
    expect(inbox.reads).to.deep.equal([['alice', 'bob']]);
    expect(sent).to.deep.equal(['alice=2', 'bob=1']);
  });

  it('sends a now that comes while a window is being counted right after it, without another window', async () => {
    const { inbox, sent, counts, windows, endWindow } = arrange();
    inbox.unseen.set('alice', 1);
    const first = counts.publish('crm', ['alice']);
    inbox.hold = true;
    await endWindow();

    inbox.unseen.set('alice', 0);
    const marked = counts.publish('crm', ['alice'], { now: true });
    inbox.release();
    await Promise.all([first, marked]);

    expect(windows).to.have.length(0);
    expect(sent).to.deep.equal(['alice=1', 'alice=0']);
  });

  it('keeps packages apart: the same user name in two packages gets two reads and two counts', async () => {
    const { inbox, sent, counts, endWindow } = arrange();
    inbox.unseen.set('alice', 2);

    const both = Promise.all([counts.publish('crm', ['alice']), counts.publish('billing', ['alice'])]);
    await endWindow();
    await both;

    expect(inbox.reads).to.deep.equal([['alice'], ['alice']]);
    expect(sent).to.deep.equal(['alice=2', 'alice=2']);
  });

  it('rejects the callers of a window whose read failed, and counts the next window again', async () => {
    const { inbox, sent, counts, endWindow } = arrange();
    inbox.failWith = new Error('database is down');
    const failed = counts.publish('crm', ['alice']).then(() => 'published', (err: Error) => err.message);
    await endWindow();
    expect(await failed).to.equal('database is down');

    inbox.failWith = null;
    inbox.unseen.set('alice', 1);
    const next = counts.publish('crm', ['alice']);
    await endWindow();
    await next;

    expect(sent).to.deep.equal(['alice=1']);
  });

  it('sends what waits for its window at once when closed, and refuses changes after', async () => {
    const { inbox, sent, counts } = arrange();
    inbox.unseen.set('alice', 4);
    const waiting = counts.publish('crm', ['alice']);

    await counts.close();
    await waiting;
    const late = await counts.publish('crm', ['bob']).then(() => 'published', () => 'refused');

    expect(sent).to.deep.equal(['alice=4']);
    expect(late).to.equal('refused');
  });
});
