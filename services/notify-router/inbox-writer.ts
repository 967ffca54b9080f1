import type { InboxEntry, InboxStore } from '../../shared/database/index.js';
import type { Topics } from '../../shared/topics/index.js';
import type { RealtimePublisher } from './realtime-publisher.js';
import { createUnseenCounts } from './unseen-counts.js';

/** Where routing puts notifications into users' inboxes, and how their unseen counts go out. */
export interface InboxWriter {
  /**
   * Puts each entry in its user's inbox (one insert for all of them; entries already there are
   * left alone) and answers those users by package, for `publishUnseen` once the entries'
   * Messages were published: the count follows the Message on the user's topic.
   */
  add(entries: readonly InboxEntry[]): Promise<Map<string, string[]>>;
  /**
   * Publishes the unseen count of each of these users of the package, counted at the end of
   * the current coalescing window (see unseen-counts.ts); resolves once published. With `now`
   * the window ends at once, for callers that wait (a job must not wait out a window).
   */
  publishUnseen(pkg: string, users: readonly string[], options?: { now?: boolean }): Promise<void>;
  /** Publishes the counts still waiting for their window. */
  close(): Promise<void>;
}

/** `INBOX_UNSEEN_WINDOW_MS` unless set. */
export const DEFAULT_UNSEEN_WINDOW_MS = 250;

export interface InboxWriterDeps {
  inbox: Pick<InboxStore, 'add' | 'countUnseen'>;
  realtime: Pick<RealtimePublisher, 'publish'>;
  topics: Topics;
  /** How long a user's changes are gathered into one count (`INBOX_UNSEEN_WINDOW_MS`). */
  unseenWindowMs?: number;
  now?: () => Date;
}

/**
 * Counts are read from the table after each change rather than kept as counters: an insert
 * that was already done (a retried route job) or a purge cannot make them drift, and the read
 * is one grouped count per package per window over (package, user, seen_at).
 */
export function createInboxWriter(deps: InboxWriterDeps): InboxWriter {
  const now = deps.now ?? (() => new Date());
  const unseen = createUnseenCounts({ ...deps, windowMs: deps.unseenWindowMs ?? DEFAULT_UNSEEN_WINDOW_MS });

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

  return { add, publishUnseen: unseen.publish, close: unseen.close };
}
