import { Router } from 'express';
import type { DeliveryStatus } from '../../shared/delivery-status/index.js';
import { NotFoundError } from '../../shared/errors/index.js';
import { eventIdSchema, notificationRequestSchema, parseOrThrow } from '../../shared/events/index.js';
import { acceptEvent, type AcceptEventDeps } from '../../shared/intake/index.js';
import { assertPackageAccess, type Authenticator } from '../../shared/auth/index.js';

/** `/v1/notifications`: producers hand events in over HTTP. */
export function notificationRoutes(
  deps: AcceptEventDeps & { auth: Authenticator; status: DeliveryStatus },
): Router {
  const router = Router();

  router.post('/v1/notifications', async (req, res) => {
    const caller = deps.auth.service(req.headers.authorization, req.header('x-api-key'));
    const { package: pkg, target, ...event } = parseOrThrow(notificationRequestSchema, req.body, 'notification');
    assertPackageAccess(caller, pkg);
    const { id } = await acceptEvent(deps, {
      package: pkg,
      target,
      event,
      source: 'http',
      requestId: res.locals['requestId'] as string,
    });
    // 202: stored and queued; routing and delivery happen after the answer.
    res.status(202).json({ id });
  });

  router.get('/v1/notifications/:id', async (req, res) => {
    const caller = deps.auth.service(req.headers.authorization, req.header('x-api-key'));
    const id = parseOrThrow(eventIdSchema, req.params.id, 'notification id');
    const notification = await deps.notifications.get(id);
    // Another package's event answers like a missing one: ids are not to be probed.
    const visible = notification && (caller.packages === '*' || caller.packages.includes(notification.package));
    if (!notification || !visible) throw new NotFoundError(`no notification ${id}`);
    const counts = await deps.status.get(id);
    res.json({
      id,
      package: notification.package,
      acceptedAt: notification.createdAt,
      ...counts,
      pending: Math.max(0, counts.pushQueued - counts.pushDone),
    });
  });

  return router;
}
