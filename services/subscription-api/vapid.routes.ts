import { Router } from 'express';
import type { VapidKeyStore } from '../../shared/database/index.js';
import { nameSchema, parseOrThrow } from '../../shared/events/index.js';

/** `GET /v1/vapid/:package`: the `applicationServerKey` a browser subscribes with. */
export function vapidRoutes(deps: { vapidKeys: VapidKeyStore }): Router {
  const router = Router();
  router.get('/v1/vapid/:package', async (req, res) => {
    const pkg = parseOrThrow(nameSchema, req.params.package, 'package');
    const key = await deps.vapidKeys.current(pkg);
    res.json({ publicKey: key.publicKey });
  });
  return router;
}
