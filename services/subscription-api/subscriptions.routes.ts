import { Router, type Request, type Response } from 'express';
import { ForbiddenError } from '../../shared/errors/index.js';
import { z } from 'zod';
import {
  nameSchema,
  parseOrThrow,
  subscriptionRequestSchema,
  unsubscribeRequestSchema,
} from '../../shared/events/index.js';
import type { Authenticator } from '../../shared/auth/index.js';
import { assertPackageAccess } from '../../shared/auth/index.js';
import { reminderOf } from '../../shared/queue/index.js';
import {
  registerSubscription,
  unregisterSubscription,
  type SubscriptionDeps,
} from './register-subscription.js';
import { sendTestPush, type SendTestPushDeps } from './send-test-push.js';
import { requestService, requestUser } from './request-callers.js';

/** `GET /v1/subscriptions` query: `user=` is for admin keys. */
export const subscriptionListQuerySchema = z.object({ package: nameSchema.optional(), user: nameSchema.optional() });

/** `/v1/subscriptions`: a user's own browser subscriptions. */
export function subscriptionRoutes(
  deps: SubscriptionDeps & Omit<SendTestPushDeps, 'subscriptions'> & { auth: Authenticator },
): Router {
  const router = Router();

  router.post('/v1/subscriptions', async (req, res) => {
    const caller = await requestUser(deps.auth, req, res);
    const input = parseOrThrow(subscriptionRequestSchema, req.body, 'subscription');
    const result = await registerSubscription(deps, caller, input, req.headers['user-agent']);
    res.status(result.created ? 201 : 200).json({ ok: true, id: result.id, total: result.total });
  });

  router.delete('/v1/subscriptions', async (req, res) => {
    const caller = await requestUser(deps.auth, req, res);
    const input = parseOrThrow(unsubscribeRequestSchema, req.body, 'unsubscribe request');
    await unregisterSubscription(deps, caller, input);
    res.json({ ok: true });
  });

  // 200 with the push service's outcome; 202 when no push-worker settled it within the wait.
  router.post('/v1/subscriptions/test', async (req, res) => {
    const caller = await requestUser(deps.auth, req, res);
    const input = parseOrThrow(unsubscribeRequestSchema, req.body, 'test request');
    const result = await sendTestPush(deps, caller, input);
    if (result.outcome !== 'pending') {
      res.json(result);
      return;
    }
    res.status(202).json({
      ...result,
      message: 'no push-worker delivered the test notification in time; it stays queued for a minute',
    });
  });

  router.get('/v1/subscriptions', async (req, res) => {
    const query = parseOrThrow(subscriptionListQuerySchema, req.query, 'query');
    const { user, packages } = await listingScope(deps.auth, req, res, query);
    if (query.package) assertPackageAccess({ packages }, query.package);
    const rows = await deps.subscriptions.list(user, query.package);
    const visible = rows.filter((r) => packages === '*' || packages.includes(r.package));
    res.json({
      subscriptions: visible.map((r) => ({
        id: r.endpointHash,
        user: r.user,
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
        reminder: reminderView(r),
      })),
    });
  });

  return router;
}

/** A subscription's daily reminder as `POST /v1/subscriptions` took it; null when none. */
function reminderView(row: Parameters<typeof reminderOf>[0]) {
  const reminder = reminderOf(row);
  if (!reminder) return null;
  const { utcHour, minute, type, message } = reminder;
  return { notifyTime: { utcHour, minute }, notifyType: type, ...(message === null ? {} : { message }) };
}

/**
 * Whose subscriptions a listing may show: a user sees their own; an admin API key may name any
 * `user=` within the packages the key covers.
 */
async function listingScope(
  auth: Authenticator,
  req: Request,
  res: Response,
  query: { user?: string },
): Promise<{ user: string; packages: readonly string[] | '*' }> {
  if (query.user === undefined) {
    const caller = await requestUser(auth, req, res);
    return { user: caller.user, packages: caller.packages };
  }
  const caller = requestService(auth, req, res);
  if (!caller.admin) throw new ForbiddenError('listing another user\'s subscriptions needs an admin key');
  return { user: query.user, packages: caller.packages };
}
