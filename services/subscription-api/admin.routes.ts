import { Router } from 'express';
import type { VapidKeyStore } from '../../shared/database/index.js';
import { ForbiddenError } from '../../shared/errors/index.js';
import { nameSchema, parseOrThrow } from '../../shared/events/index.js';
import { assertPackageAccess, type Authenticator } from '../../shared/auth/index.js';
import { requestService } from './request-callers.js';

/** `/v1/admin/...`: operations for admin API keys, within the packages each key covers. */
export function adminRoutes(deps: { auth: Authenticator; vapidKeys: VapidKeyStore }): Router {
  const router = Router();

  router.post('/v1/admin/vapid/:package/rotate', async (req, res) => {
    const caller = requestService(deps.auth, req, res);
    if (!caller.admin) throw new ForbiddenError('rotating VAPID keys needs an admin key');
    const pkg = parseOrThrow(nameSchema, req.params.package, 'package');
    assertPackageAccess(caller, pkg);
    const key = await deps.vapidKeys.rotate(pkg);
    res.status(201).json({ id: key.id, publicKey: key.publicKey });
  });

  return router;
}
