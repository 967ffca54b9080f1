import { Router } from 'express';
import { pendingPushes, type DeliveryStatus } from '../../shared/delivery-status/index.js';
import { eventIdSchema, notificationRequestSchema, parseOrThrow } from '../../shared/events/index.js';
import { acceptEvent, type AcceptEventDeps } from '../../shared/intake/index.js';
import { assertPackageAccess, type Authenticator } from '../../shared/auth/index.js';
import { requestService } from './request-callers.js';
import { cancelledConflict, cancelNotification, visibleNotification } from './cancel-notification.js';

/** `/v1/notifications`: producers hand events in over HTTP, follow them, and cancel scheduled ones. */
export function notificationRoutes(
  deps: AcceptEventDeps & { auth: Authenticator; status: DeliveryStatus },
): Router {
  const router = Router();

  router.post('/v1/notifications', async (req, res) => {
    const caller = requestService(deps.auth, req, res);
    const { package: pkg, target, ...event } = parseOrThrow(notificationRequestSchema, req.body, 'notification');
    assertPackageAccess(caller, pkg);
    const { id, repeated } = await acceptEvent(deps, {
      package: pkg,
      target,
      event,
      source: 'http',
      requestId: res.locals['requestId'] as string,
    });
    // A cancelled event's route job is kept, marked: the repeat above queued nothing. Say so.
    const cancelledAt = repeated ? await deps.routeQueue.cancelledAt(id) : null;
    if (cancelledAt) throw cancelledConflict(id, cancelledAt);
    // 202: stored and queued; routing and delivery happen after the answer.
    res.status(202).json({ id });
  });

  router.get('/v1/notifications/:id', async (req, res) => {
    const caller = requestService(deps.auth, req, res);
    const id = parseOrThrow(eventIdSchema, req.params.id, 'notification id');
    const notification = await visibleNotification(deps, caller, id);
    const [counts, cancelledAt] = await Promise.all([deps.status.get(id), deps.routeQueue.cancelledAt(id)]);
    res.json({
      id,
      package: notification.package,
      acceptedAt: notification.createdAt,
      ...counts,
      pending: pendingPushes(counts),
      cancelled: cancelledAt !== null,
      ...(cancelledAt && { cancelledAt }),
    });
  });

  // 200 when no router will take the event (also for a repeated cancel); 404 once it fired.
  router.delete('/v1/notifications/:id', async (req, res) => {
    const caller = requestService(deps.auth, req, res);
    const id = parseOrThrow(eventIdSchema, req.params.id, 'notification id');
    const { cancelledAt } = await cancelNotification(deps, caller, id);
    res.json({ id, cancelled: true, cancelledAt });
  });

  return router;
}
