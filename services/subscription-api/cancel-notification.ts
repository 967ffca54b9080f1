import type { NotificationStore } from '../../shared/database/index.js';
import type { NotificationRow } from '../../shared/entities/index.js';
import { ConflictError, NotFoundError } from '../../shared/errors/index.js';
import type { RouteQueue } from '../../shared/queue/index.js';
import type { ServiceCaller } from '../../shared/auth/index.js';

export interface CancelNotificationDeps {
  notifications: Pick<NotificationStore, 'get'>;
  routeQueue: Pick<RouteQueue, 'cancel'>;
  now?: () => Date;
}

/**
 * How long after its `sendAt` a cancel is remembered: a producer retrying the event id in that
 * time gets 409, and no intake (HTTP or MQTT) can queue it again.
 */
export const CANCEL_REMEMBERED_MS = 7 * 24 * 3600 * 1000;

/**
 * The caller's notification by id. Another package's notification answers like a missing one
 * (404): ids are not to be probed.
 */
export async function visibleNotification(
  deps: { notifications: Pick<NotificationStore, 'get'> },
  caller: Pick<ServiceCaller, 'packages'>,
  id: string,
): Promise<NotificationRow> {
  const notification = await deps.notifications.get(id);
  const visible = notification && (caller.packages === '*' || caller.packages.includes(notification.package));
  if (!notification || !visible) throw new NotFoundError(`no notification ${id}`);
  return notification;
}

/**
 * Cancels a scheduled notification before it fires. Either the cancel wins (no router will
 * take the event) or it throws: NotFoundError when it already fired (or is unknown),
 * ConflictError when it was never scheduled. Cancelling again answers the first cancel.
 */
export async function cancelNotification(
  deps: CancelNotificationDeps,
  caller: Pick<ServiceCaller, 'packages'>,
  id: string,
): Promise<{ id: string; cancelledAt: Date; already: boolean }> {
  const notification = await visibleNotification(deps, caller, id);
  const { sendAt } = JSON.parse(notification.event) as { sendAt?: string };
  if (sendAt === undefined) {
    throw new ConflictError(`notification ${id} was not scheduled (no sendAt): it was routed when accepted`);
  }
  const now = (deps.now?.() ?? new Date()).getTime();
  const keepUntil = Math.max(Date.parse(sendAt), now) + CANCEL_REMEMBERED_MS;
  const outcome = await deps.routeQueue.cancel(id, keepUntil);
  if (outcome.state !== 'cancelled') {
    throw new NotFoundError(`notification ${id} already fired (or is no longer queued): it cannot be cancelled`);
  }
  return { id, cancelledAt: outcome.at, already: outcome.already };
}

/** A repeat of a cancelled event id is refused, not silently accepted as if it would be sent. */
export function cancelledConflict(id: string, at: Date): ConflictError {
  return new ConflictError(`notification ${id} was cancelled at ${at.toISOString()}; use a new id to send it`);
}
