import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import express, { type Express, type RequestHandler } from 'express';
import type {
  GroupStore,
  InboxStore,
  NotificationStore,
  SubscriptionStore,
  VapidKeyStore,
} from '../../shared/database/index.js';
import type { DeliveryStatus } from '../../shared/delivery-status/index.js';
import { createReadiness, readinessHandler, type Readiness } from '../../shared/health/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { createMetricsHandler, type MetricsRegistry } from '../../shared/metrics/index.js';
import type { EndpointPolicy } from '../../shared/push-endpoints/index.js';
import type { InboxQueue, RouteQueue } from '../../shared/queue/index.js';
import type { Authenticator } from '../../shared/auth/index.js';
import { adminRoutes } from './admin.routes.js';
import { demoRoutes, type DemoOptions } from './demo.routes.js';
import { createErrorHandler, notFoundHandler } from './error-handler.js';
import { groupRoutes } from './groups.routes.js';
import { inboxRoutes } from './inbox.routes.js';
import { jsonBody } from './json-body.js';
import { notificationRoutes } from './notifications.routes.js';
import { openApiRoutes } from './openapi.routes.js';
import { queueBoardRoutes } from './queue-board.routes.js';
import { staticRoutes } from './static.routes.js';
import { subscriptionRoutes } from './subscriptions.routes.js';
import { vapidRoutes } from './vapid.routes.js';

export interface AppDeps {
  auth: Authenticator;
  subscriptions: SubscriptionStore;
  vapidKeys: VapidKeyStore;
  notifications: NotificationStore;
  groups: GroupStore;
  inbox: InboxStore;
  routeQueue: RouteQueue;
  /** Where the API hands a user's changed unseen count to the routers. */
  inboxQueue: Pick<InboxQueue, 'unseenChanged'>;
  status: DeliveryStatus;
  endpointPolicy: EndpointPolicy;
  log: Logger;
  /** Absent: no `GET /metrics` and no request counting. */
  metrics?: { registry: MetricsRegistry; httpMetrics: RequestHandler };
  /** What `GET /readyz` checks; absent: it answers ready whenever the process is up. */
  readiness?: Readiness;
  /** Present: bull-board over these queues at `/admin/queues`, for admin keys only. */
  boardQueues?: readonly Queue[];
  /** Present: the demo page `/` and its `/demo/...` routes are on (never in production). */
  demo?: DemoOptions;
  /** Per-caller request limits (`createRateLimits`); absent: none. */
  rateLimits?: RequestHandler;
  /** Reverse proxies whose `X-Forwarded-For` gives the client address (`HTTP_TRUSTED_PROXIES`). */
  trustedProxies?: readonly string[] | undefined;
}

/** Builds the Express app; opens nothing (see `startSubscriptionApi` for listening). */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // An ETag per JSON answer is a SHA-1 of every body (bench:api), and no client of this API
  // revalidates: its answers are per caller and change with every write.
  app.set('etag', false);
  app.set('query parser', 'simple');
  if (deps.trustedProxies?.length) app.set('trust proxy', [...deps.trustedProxies]);
  if (deps.metrics) app.use(deps.metrics.httpMetrics);
  app.use((req, res, next) => {
    const given = req.header('x-request-id');
    const requestId = given && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
    res.locals['requestId'] = requestId;
    res.set('x-request-id', requestId);
    next();
  });
  // Before the limits: the routes API_ROUTES marks `unlimited`.
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/readyz', readinessHandler(deps.readiness ?? createReadiness([])));
  if (deps.metrics) app.get('/metrics', createMetricsHandler(deps.metrics.registry));
  // Counted before the body is read: a caller over its limit costs no parsing.
  if (deps.rateLimits) app.use(deps.rateLimits);
  app.use(jsonBody());

  app.use(openApiRoutes({ demo: deps.demo !== undefined, metrics: deps.metrics !== undefined, board: deps.boardQueues !== undefined }));
  app.use(vapidRoutes(deps));
  app.use(subscriptionRoutes(deps));
  app.use(notificationRoutes(deps));
  app.use(groupRoutes(deps));
  app.use(inboxRoutes(deps));
  app.use(adminRoutes(deps));
  if (deps.boardQueues) app.use(queueBoardRoutes({ auth: deps.auth, queues: deps.boardQueues }));
  app.use(staticRoutes({ demo: deps.demo !== undefined }));
  if (deps.demo) app.use(demoRoutes({ ...deps, demo: deps.demo }));

  app.use(notFoundHandler);
  app.use(createErrorHandler(deps.log));
  return app;
}
