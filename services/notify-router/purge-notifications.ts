import type { NotificationPosition, NotificationRetentionStore } from '../../shared/database/index.js';
import type { DeliveryStatus } from '../../shared/delivery-status/index.js';
import type { Logger } from '../../shared/logging/index.js';
import type { RouteQueue } from '../../shared/queue/index.js';
import { PURGE_BATCH } from './purge-inbox.js';

const DAY_MS = 24 * 3600 * 1000;

export interface PurgeNotificationsDeps {
  notifications: NotificationRetentionStore;
  routeQueue: Pick<RouteQueue, 'holding'>;
  status: Pick<DeliveryStatus, 'withPendingPushes'>;
  log: Logger;
}

/**
 * Deletes notifications accepted more than `retentionDays` before `now` (0: keeps them all),
 * oldest first, at most `batch` per statement. Kept whatever their age: a notification an inbox
 * item refers to (the inbox reads its Message from it), one whose route job the route queue
 * still holds (scheduled, routing, retried, cancelled, or its id still de-duplicating), and one
 * with pushes still pending. Idempotent: two routers purging at once delete each row once.
 */
export async function purgeNotifications(
  deps: PurgeNotificationsDeps,
  retentionDays: number,
  now: Date,
  batch = PURGE_BATCH,
): Promise<number> {
  if (retentionDays === 0) return 0;
  const createdBefore = new Date(now.getTime() - retentionDays * DAY_MS);
  let total = 0;
  // Rows kept stay behind the walk's position: each batch reads past them, never again.
  let from: NotificationPosition | null = null;
  for (;;) {
    const rows = await deps.notifications.listUnreferencedBefore(createdBefore, from, batch);
    if (rows.length === 0) break;
    const ids = rows.map((row) => row.id);
    const [held, pending] = await Promise.all([
      deps.routeQueue.holding(ids),
      deps.status.withPendingPushes(ids),
    ]);
    const unneeded = ids.filter((id) => !held.has(id) && !pending.has(id));
    total += await deps.notifications.deleteUnreferenced(unneeded);
    if (rows.length < batch) break;
    from = rows[rows.length - 1]!;
  }
  if (total > 0) deps.log.info({ deleted: total, retentionDays }, 'old notifications purged');
  return total;
}
