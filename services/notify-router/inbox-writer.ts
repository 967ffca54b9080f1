import type { InboxEntry, InboxStore } from '../../shared/database/index.js';
import type { UnseenMessage } from '../../shared/events/index.js';
import type { Topics } from '../../shared/topics/index.js';
import type { RealtimePublisher } from './realtime-publisher.js';

/** Where routing puts notifications into users' inboxes, and how their unseen counts go out. */
export interface InboxWriter {
  /**
   * Puts each entry in its user's inbox (one insert for all of them; entries already there are
   * left alone) and answers those users by package, for `publishUnseen` once the entries'
   * Messages were published: the count follows the Message on the user's topic.
   */
  add(entries: readonly InboxEntry[]): Promise<Map<string, string[]>>;
  /** Publishes the unseen count of each of these users of the package, as counted now. */
  publishUnseen(pkg: string, users: readonly string[]): Promise<void>;
}

export interface InboxWriterDeps {
  inbox: Pick<InboxStore, 'add' | 'countUnseen'>;
  realtime: Pick<RealtimePublisher, 'publish'>;
  topics: Topics;
  now?: () => Date;
}

/**
 * Counts are read from the table after each change rather than kept as counters: an insert
 * that was already done (a retried route job) or a purge cannot make them drift, and the read
 * is one grouped count per package per batch over (package, user, seen_at).
 */
export function createInboxWriter(deps: InboxWriterDeps): InboxWriter {
  const now = deps.now ?? (() => new Date());

  async function publishUnseen(pkg: string, users: readonly string[]): Promise<void> {
    if (users.length === 0) return;
    const counts = await deps.inbox.countUnseen(pkg, users);
    await Promise.all(
      users.map((user) => {
        const message: UnseenMessage = { type: 'unseen', count: counts.get(user) ?? 0 };
        return deps.realtime.publish(deps.topics.push(pkg, user), JSON.stringify(message));
      }),
    );
  }

  async function add(entries: readonly InboxEntry[]): Promise<Map<string, string[]>> {
    if (entries.length === 0) return new Map();
    await deps.inbox.add(entries, now());
    const byPackage = new Map<string, Set<string>>();
    for (const { package: pkg, user } of entries) {
      let users = byPackage.get(pkg);
      if (!users) byPackage.set(pkg, (users = new Set()));
      users.add(user);
    }
    return new Map([...byPackage].map(([pkg, users]) => [pkg, [...users]]));
  }

  return { add, publishUnseen };
}
