import { randomUUID } from 'node:crypto';
import express, { type Express, type RequestHandler } from 'express';
import type { GroupStore, SubscriptionStore, VapidKeyStore, NotificationStore } from '../../shared/database/index.js';
import type { DeliveryStatus } from '../../shared/delivery-status/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { createMetricsHandler, type MetricsRegistry } from '../../shared/metrics/index.js';
import type { EndpointPolicy } from '../../shared/push-endpoints/index.js';
import type { RouteQueue } from '../../shared/queue/index.js';
import type { Authenticator } from '../../shared/auth/index.js';
import { adminRoutes } from './admin.routes.js';
import { demoRoutes, type DemoOptions } from './demo.routes.js';
import { createErrorHandler, notFoundHandler } from './error-handler.js';
import { groupRoutes } from './groups.routes.js';
import { jsonBody } from './json-body.js';
import { notificationRoutes } from './notifications.routes.js';
import { openApiRoutes } from './openapi.routes.js';
import { staticRoutes } from './static.routes.js';
import { subscriptionRoutes } from './subscriptions.routes.js';
import { vapidRoutes } from './vapid.routes.js';

export interface AppDeps {
  auth: Authenticator;
  subscriptions: SubscriptionStore;
  vapidKeys: VapidKeyStore;
  notifications: NotificationStore;
  groups: GroupStore;
  routeQueue: RouteQueue;
  status: DeliveryStatus;
  endpointPolicy: EndpointPolicy;
  log: Logger;
  /** Absent: no `GET /metrics` and no request counting. */
  metrics?: { registry: MetricsRegistry; httpMetrics: RequestHandler };
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
  // Counted before the body is read: a caller over its limit costs no parsing.
  if (deps.rateLimits) app.use(deps.rateLimits);
  app.use(jsonBody());

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  if (deps.metrics) app.get('/metrics', createMetricsHandler(deps.metrics.registry));
  app.use(openApiRoutes({ demo: deps.demo !== undefined, metrics: deps.metrics !== undefined }));
  app.use(vapidRoutes(deps));
  app.use(subscriptionRoutes(deps));
  app.use(notificationRoutes(deps));
  app.use(groupRoutes(deps));
  app.use(adminRoutes(deps));
  app.use(staticRoutes({ demo: deps.demo !== undefined }));
  if (deps.demo) app.use(demoRoutes({ ...deps, demo: deps.demo }));

  app.use(notFoundHandler);
  app.use(createErrorHandler(deps.log));
  return app;
}
