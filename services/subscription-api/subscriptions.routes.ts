import { Router } from 'express';
import { z } from 'zod';
import {
  nameSchema,
  parseOrThrow,
  subscriptionRequestSchema,
  unsubscribeRequestSchema,
} from '../../shared/events/index.js';
import type { Authenticator } from './authenticate.js';
import { assertPackageAccess } from './authenticate.js';
import {
  registerSubscription,
  unregisterSubscription,
  type SubscriptionDeps,
} from './register-subscription.js';

const listQuerySchema = z.object({ package: nameSchema.optional() });

/** `/v1/subscriptions`: a user's own browser subscriptions. */
export function subscriptionRoutes(deps: SubscriptionDeps & { auth: Authenticator }): Router {
  const router = Router();

  router.post('/v1/subscriptions', async (req, res) => {
    const caller = await deps.auth.user(req.headers.authorization);
    const input = parseOrThrow(subscriptionRequestSchema, req.body, 'subscription');
    const result = await registerSubscription(deps, caller, input, req.headers['user-agent']);
    res.status(result.created ? 201 : 200).json({ ok: true, id: result.id, total: result.total });
  });

  router.delete('/v1/subscriptions', async (req, res) => {
    const caller = await deps.auth.user(req.headers.authorization);
    const input = parseOrThrow(unsubscribeRequestSchema, req.body, 'unsubscribe request');
    await unregisterSubscription(deps, caller, input);
    res.json({ ok: true });
  });

  router.get('/v1/subscriptions', async (req, res) => {
    const caller = await deps.auth.user(req.headers.authorization);
    const query = parseOrThrow(listQuerySchema, req.query, 'query');
    if (query.package) assertPackageAccess(caller, query.package);
    const rows = await deps.subscriptions.list(caller.user, query.package);
    const visible = rows.filter((r) => caller.packages.includes(r.package));
    res.json({
      subscriptions: visible.map((r) => ({
        id: r.endpointHash,
        package: r.package,
        endpoint: r.endpoint,
        module: r.module,
        userAgent: r.userAgent,
        active: r.active === 'Y',
        deactivatedReason: r.deactivatedReason,
        createdAt: r.createdAt,
        updatedAt: r.updatedAt,
        lastSuccessAt: r.lastSuccessAt,
        failureCount: r.failureCount,
      })),
    });
  });

  return router;
}
