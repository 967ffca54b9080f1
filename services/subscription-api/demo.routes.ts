import { Router } from 'express';
import { z } from 'zod';
import { assertPackageAccess, type Authenticator } from '../../shared/auth/index.js';
import type { GroupStore } from '../../shared/database/index.js';
import { eventSchema, nameSchema, parseOrThrow } from '../../shared/events/index.js';
import { acceptEvent, type AcceptEventDeps } from '../../shared/intake/index.js';
import { createTopics } from '../../shared/topics/index.js';
import { DEMO_PACKAGE, DEMO_SESSION_SECONDS, DEMO_USER, signDemoToken } from './demo-session.js';
import { requestUser } from './request-callers.js';

/** What the demo page needs to know beyond the API: where the broker's WebSocket listens. */
export interface DemoOptions {
  jwtSecret: string;
  /** Port of the broker's MQTT-over-WebSocket listener (path `/mqtt`); null: no live feed. */
  mqttWsPort: number | null;
  topicRoot: string;
}

export const demoSessionSchema = z.strictObject({ user: nameSchema.optional() });
export const demoNotificationSchema = eventSchema.extend({
  to: z.union([z.literal('me'), z.strictObject({ group: nameSchema })]),
  // The page shows the live feed while it sends, so by default the push comes too.
  delivery: z.enum(['offline', 'always', 'realtime']).default('always'),
});

/**
 * `/demo/...`: mounted only when the demo page is on. Sign-in issues a short-lived token for
 * the demo package only; sending acts for the signed-in user, to themselves or to a group of
 * the demo package, so the page never holds a service key.
 */
export function demoRoutes(
  deps: AcceptEventDeps & { auth: Authenticator; groups: GroupStore; demo: DemoOptions },
): Router {
  const router = Router();
  const topics = createTopics(deps.demo.topicRoot);

  router.post('/demo/session', async (req, res) => {
    const { user = DEMO_USER } = parseOrThrow(demoSessionSchema, req.body ?? {}, 'session');
    const token = await signDemoToken(deps.demo.jwtSecret, user, `${DEMO_SESSION_SECONDS}s`);
    res.status(201).json({
      user,
      package: DEMO_PACKAGE,
      token,
      expiresAt: new Date(Date.now() + DEMO_SESSION_SECONDS * 1000).toISOString(),
      mqtt: deps.demo.mqttWsPort === null
        ? null
        : { port: deps.demo.mqttWsPort, path: '/mqtt', topic: topics.push(DEMO_PACKAGE, user) },
    });
  });

  router.post('/demo/notifications', async (req, res) => {
    const caller = await requestUser(deps.auth, req, res);
    assertPackageAccess(caller, DEMO_PACKAGE);
    const { to, ...event } = parseOrThrow(demoNotificationSchema, req.body, 'notification');
    const { id } = await acceptEvent(deps, {
      package: DEMO_PACKAGE,
      target: to === 'me' ? { user: caller.user } : { group: to.group },
      event,
      source: 'http',
      requestId: res.locals['requestId'] as string,
    });
    res.status(202).json({ id });
  });

  router.put('/demo/groups/:group/members/me', async (req, res) => {
    const caller = await requestUser(deps.auth, req, res);
    assertPackageAccess(caller, DEMO_PACKAGE);
    const group = parseOrThrow(nameSchema, req.params.group, 'group');
    const added = await deps.groups.add(DEMO_PACKAGE, group, caller.user);
    res.status(added ? 201 : 200).json({ ok: true, added });
  });

  return router;
}
