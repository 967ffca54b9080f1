import type { InboxStore } from '../../shared/database/index.js';
import type { Logger } from '../../shared/logging/index.js';

/** Rows per delete statement: small enough that no statement holds locks for long. */
export const PURGE_BATCH = 1_000;
const DAY_MS = 24 * 3600 * 1000;

/**
 * Deletes inbox items seen more than `retentionDays` before `now`, a batch per statement until
 * none is left. Unseen items are never touched, so no unseen count changes and nothing is
 * published. Idempotent: two routers purging at once delete each row once.
 */
export async function purgeInbox(
  deps: { inbox: Pick<InboxStore, 'purgeSeen'>; log: Logger },
  retentionDays: number,
  now: Date,
  batch = PURGE_BATCH,
): Promise<number> {
  const seenBefore = new Date(now.getTime() - retentionDays * DAY_MS);
  let total = 0;
  for (;;) {
    const deleted = await deps.inbox.purgeSeen(seenBefore, batch);
    total += deleted;
    if (deleted < batch) break;
  }
  if (total > 0) deps.log.info({ deleted: total, retentionDays }, 'seen inbox items purged');
  return total;
}
