import type { InboxStore } from '../../shared/database/index.js';
import type { UnseenMessage } from '../../shared/events/index.js';
import type { Topics } from '../../shared/topics/index.js';
import type { RealtimePublisher } from './realtime-publisher.js';

/** Publishes users' unseen counts, each user at most once per window. */
export interface UnseenCounts {
  /**
   * Publishes the unseen count of each of these users of the package: counted at the end of
   * the current window, so after every change made before the call. Resolves once published;
   * rejects when the count or a publish failed. With `now`, the window ends at once (or as soon
   * as the window being sent is out): for callers that wait for their counts (route and mark-seen
   * jobs), where waiting out a window would hold the job.
   */
  publish(pkg: string, users: readonly string[], options?: { now?: boolean }): Promise<void>;
  /** Publishes what is waiting without waiting out the window, and stops taking more. */
  close(): Promise<void>;
}

export interface UnseenCountsDeps {
  inbox: Pick<InboxStore, 'countUnseen'>;
  realtime: Pick<RealtimePublisher, 'publish'>;
  topics: Topics;
  /** `INBOX_UNSEEN_WINDOW_MS`: how long changes are gathered before they are counted. */
  windowMs: number;
  /** Waits out a window; tests pass one they end themselves. */
  wait?: (ms: number) => Promise<void>;
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Users per count read and per round of publishes (a route batch). */
const CHUNK = 1_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Gathers the users whose inbox changed during a window, then reads their counts (one grouped
 * count per package) and publishes one count each. Windows run one after another: a change
 * made while a window's counts are read or published waits for the next window, so every
 * user's last change is followed by a count read after it (exact when read), and a user's
 * counts leave the router in the order they were read. At 10,000 events a second over 1,000
 * users, a window of 250 ms sends a user at most 4 counts a second instead of 10.
 */
export function createUnseenCounts(deps: UnseenCountsDeps): UnseenCounts {
  const wait = deps.wait ?? sleep;
  let pending = new Map<string, Set<string>>();
  let waiters: Waiter[] = [];
  let running: Promise<void> | null = null;
  let closing = false;
  let hurry = false;
  let endWindow: (() => void) | null = null;

  async function publishCounts(pkg: string, users: string[]): Promise<void> {
    // A chunk at a time: a window that gathered a fan-out has at most a chunk of publishes in flight.
    for (let i = 0; i < users.length; i += CHUNK) {
      const chunk = users.slice(i, i + CHUNK);
      const counts = await deps.inbox.countUnseen(pkg, chunk);
      await Promise.all(
        chunk.map((user) => {
          const message: UnseenMessage = { type: 'unseen', count: counts.get(user) ?? 0 };
          return deps.realtime.publish(deps.topics.push(pkg, user), JSON.stringify(message));
        }),
      );
    }
  }

  async function run(): Promise<void> {
    while (waiters.length > 0) {
      if (!closing && !hurry) await new Promise<void>((resolve) => {
        endWindow = resolve;
        void wait(deps.windowMs).then(resolve);
      });
      endWindow = null;
      hurry = false;
      const [batch, settle] = [pending, waiters];
      [pending, waiters] = [new Map(), []];
      try {
        await Promise.all([...batch].map(([pkg, users]) => publishCounts(pkg, [...users])));
        for (const waiter of settle) waiter.resolve();
      } catch (err) {
        for (const waiter of settle) waiter.reject(err);
      }
    }
    running = null;
  }

  return {
    publish(pkg, users, options) {
      if (users.length === 0) return Promise.resolve();
      if (closing) return Promise.reject(new Error('unseen counts are closed'));
      let waiting = pending.get(pkg);
      if (!waiting) pending.set(pkg, (waiting = new Set()));
      for (const user of users) waiting.add(user);
      return new Promise<void>((resolve, reject) => {
        waiters.push({ resolve, reject });
        if (options?.now) {
          hurry = true;
          endWindow?.();
        }
        running ??= run();
      });
    },
    async close() {
      closing = true;
      endWindow?.();
      await running;
    },
  };
}
