import { Router } from 'express';
import { notificationRequestSchema, parseOrThrow } from '../../shared/events/index.js';
import { acceptEvent, type AcceptEventDeps } from '../../shared/intake/index.js';
import { assertPackageAccess, type Authenticator } from './authenticate.js';

/** `/v1/notifications`: producers hand events in over HTTP. */
export function notificationRoutes(deps: AcceptEventDeps & { auth: Authenticator }): Router {
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

  return router;
}
