import type { UserCaller } from '../../shared/auth/index.js';
import { assertPackageAccess } from '../../shared/auth/index.js';
import type { InboxItemView, InboxPosition, InboxState, InboxStore } from '../../shared/database/index.js';
import { buildMessage, type Event, type Message } from '../../shared/events/index.js';
import { encodeCursor } from './inbox-cursor.js';

export interface InboxQuery {
  package: string;
  state: InboxState;
  before?: InboxPosition;
  after?: InboxPosition;
  limit: number;
}

/** One item as `GET /v1/inbox` answers it: the Message a dashboard renders, and its state. */
export interface InboxItemAnswer {
  id: string;
  /** Where this item is: pass it as `before`, `after` or `upTo`. */
  cursor: string;
  notificationId: string;
  message: Message;
  createdAt: string;
  seenAt: string | null;
}

export interface InboxPage {
  /** Newest first, also when paging with `after`. */
  items: InboxItemAnswer[];
  /** The caller's unseen items in the package, whatever the page shows. */
  unseen: number;
  /**
   * The cursor to pass again with the same parameter for the next page (`before`: older items;
   * `after`: newer ones); null when there are no more.
   */
  next: string | null;
}

/**
 * A page of the caller's inbox. Without `after` it pages back from the newest item. With
 * `after` it answers the `limit` items right after the cursor (the oldest of what is newer), so a
 * dashboard that reconnects and follows `next` gets every item it missed exactly once.
 */
export async function readInbox(
  deps: { inbox: Pick<InboxStore, 'list' | 'countUnseen'> },
  caller: UserCaller,
  query: InboxQuery,
): Promise<InboxPage> {
  assertPackageAccess(caller, query.package);
  const { limit } = query;
  // One more than asked tells whether another page exists, so `next` is never a dead end.
  const [rows, counts] = await Promise.all([
    deps.inbox.list(query.package, caller.user, { ...query, limit: limit + 1 }),
    deps.inbox.countUnseen(query.package, [caller.user]),
  ]);
  const page = rows.slice(0, limit);
  const next = rows.length > limit ? encodeCursor(page[page.length - 1]!) : null;
  if (query.after) page.reverse();
  return {
    items: page.map((row) => answer(query.package, caller.user, row)),
    unseen: counts.get(caller.user) ?? 0,
    next,
  };
}

function answer(pkg: string, user: string, row: InboxItemView): InboxItemAnswer {
  // The event as intake validated and stored it; the Message is rebuilt as routing built it.
  const event = JSON.parse(row.event) as Event;
  const ids = { id: row.notificationId, package: pkg, user, createdAt: row.acceptedAt.toISOString() };
  return {
    id: row.id,
    cursor: encodeCursor(row),
    notificationId: row.notificationId,
    message: buildMessage(event, ids),
    createdAt: row.createdAt.toISOString(),
    seenAt: row.seenAt ? row.seenAt.toISOString() : null,
  };
}
