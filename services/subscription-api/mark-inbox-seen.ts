import type { UserCaller } from '../../shared/auth/index.js';
import { assertPackageAccess } from '../../shared/auth/index.js';
import type { InboxStore, SeenSelection } from '../../shared/database/index.js';
import type { InboxQueue } from '../../shared/queue/index.js';

export type MarkSeenInput = { package: string } & SeenSelection;

/**
 * Marks the caller's items seen, then hands the new unseen count to the routers (an `unseen`
 * job): they alone publish on push topics, and the API has no broker connection. The job is
 * queued even when nothing changed, so a request retried after a failed hand-over still gets
 * the count published.
 */
export async function markInboxSeen(
  deps: { inbox: Pick<InboxStore, 'markSeen' | 'countUnseen'>; inboxQueue: Pick<InboxQueue, 'unseenChanged'> },
  caller: UserCaller,
  input: MarkSeenInput,
  now = new Date(),
): Promise<{ marked: number; unseen: number }> {
  assertPackageAccess(caller, input.package);
  const marked = await deps.inbox.markSeen(input.package, caller.user, input, now);
  await deps.inboxQueue.unseenChanged({ package: input.package, user: caller.user });
  const counts = await deps.inbox.countUnseen(input.package, [caller.user]);
  return { marked, unseen: counts.get(caller.user) ?? 0 };
}
