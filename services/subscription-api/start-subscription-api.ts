import { createServer } from 'node:http';
import type { DataSource } from 'typeorm';
import type { AuthConfig, HttpConfig, PushConfig, RedisConfig } from '../../shared/config/index.js';
import {
  createGroupStore,
  createInboxStore,
  createNotificationStore,
  createSubscriptionStore,
  createVapidKeyStore,
  failFastWhileUnreachable,
  type SubscriptionStore,
} from '../../shared/database/index.js';
import { createDeliveryStatus } from '../../shared/delivery-status/index.js';
import { createReadiness, databaseCheck, redisCheck, type ReadinessCheck } from '../../shared/health/index.js';
import { closeServer, listen, type Service } from '../../shared/lifecycle/index.js';
import type { Logger } from '../../shared/logging/index.js';
import {
  createHttpMetrics,
  createMetricsRegistry,
  queueDepthSource,
  registerQueueDepth,
  type MetricsRegistry,
} from '../../shared/metrics/index.js';
import {
  connectRedis,
  createInboxQueue,
  createReminderSchedules,
  createRouteQueue,
  openQueue,
} from '../../shared/queue/index.js';
import { createGroupCommit } from '../../shared/group-commit/index.js';
import { QUEUE_NAMES } from '../../shared/topics/index.js';
import { createAuthenticator, type AuthenticatorOptions } from '../../shared/auth/index.js';
import { ConfigError } from '../../shared/errors/index.js';
import { createApp, type AppDeps } from './create-app.js';
import { createRateLimits } from './rate-limits.js';
import type { SubscriptionDeps } from './register-subscription.js';
import type { DemoOptions } from './demo.routes.js';
import { DEMO_PACKAGE } from './demo-session.js';

export interface SubscriptionApiDeps {
  http: HttpConfig;
  auth: AuthConfig & Pick<AuthenticatorOptions, 'jwksCooldownMs'>;
  push: Pick<PushConfig, 'endpointPolicy' | 'vapidDefaultKey'>;
  redis: RedisConfig & { url: string };
  dataSource: DataSource;
  log: Logger;
  moveWhenTaken?: boolean;
  /**
   * The registry `GET /metrics` serves; the all-in-one passes the one its other services
   * report to. Absent: the API creates its own.
   */
  metrics?: MetricsRegistry;
  /**
   * Checked by `GET /readyz` besides the API's own database and Redis: the all-in-one adds the
   * router's broker connection.
   */
  readiness?: readonly ReadinessCheck[];
  /** Present: serve the demo page (see `DEMO_PAGE`); it signs demo tokens with `auth.jwtSecret`. */
  demo?: Omit<DemoOptions, 'jwtSecret'>;
}

/** The demo signs its users in with HS256 tokens of its own. */
function demoSecret(jwtSecret: string | undefined): string {
  if (!jwtSecret) throw new ConfigError('DEMO_PAGE needs AUTH_JWT_SECRET: the demo signs its users in with it');
  return jwtSecret;
}

export interface SubscriptionApi extends Service {
  port: number;
}

/**
 * Starts the HTTP API: builds the app from real stores and the route queue, then listens.
 * `GET /metrics` serves `deps.metrics` (or a registry of its own) with HTTP request counts
 * and the depth of the route and push queues.
 */
export async function startSubscriptionApi(deps: SubscriptionApiDeps): Promise<SubscriptionApi> {
  const log = deps.log.child({ part: 'subscription-api' });
  // During a database outage each request would try a connection of its own (the fault tests:
  // the API fell behind at 300 requests/s); fail at once instead, and say so once.
  failFastWhileUnreachable(deps.dataSource, log);
  const demo = deps.demo && { ...deps.demo, jwtSecret: demoSecret(deps.auth.jwtSecret) };
  const redis = connectRedis(deps.redis.url, { log, role: 'api', failFast: true });
  const routeQueue = createRouteQueue({ connection: redis, prefix: deps.redis.queuePrefix, log });
  const reminders = createReminderSchedules({ connection: redis, prefix: deps.redis.queuePrefix, log });
  const inboxQueue = createInboxQueue({ connection: redis, prefix: deps.redis.queuePrefix, log });
  // Opened only to count jobs for queue depth and the queue board; on the API's Redis connection.
  const counted = [QUEUE_NAMES.route, QUEUE_NAMES.push, QUEUE_NAMES.reminders, QUEUE_NAMES.inbox];
  const countedQueues = counted.map((name) => openQueue(name, { connection: redis, prefix: deps.redis.queuePrefix, log }));
  const registry = deps.metrics ?? createMetricsRegistry();
  registerQueueDepth(registry, countedQueues.map(queueDepthSource));
  // One authenticator: the rate limits sign callers in as the routes do.
  const auth = createAuthenticator({ ...deps.auth, log });
  const rateLimits = deps.http.rateLimits;
  // A connection of its own, pipelining automatically: the counts of the requests read in one
  // turn of the event loop leave in one write (bench:api: a socket write per request was the
  // limiter's main cost).
  const counters = rateLimits && connectRedis(deps.redis.url, { log, role: 'api-rate-limits', failFast: true, autoPipelining: true });
  // `reminders` reaches the subscription routes with the rest of the deps (createApp hands its
  // deps object to them as it is).
  const appDeps: AppDeps & Pick<SubscriptionDeps, 'reminders'> = {
    reminders,
    auth,
    rateLimits: rateLimits && counters && createRateLimits({ redis: counters, prefix: deps.redis.queuePrefix, auth, settings: rateLimits, log }),
    trustedProxies: deps.http.trustedProxies,
    subscriptions: groupedUpserts(createSubscriptionStore(deps.dataSource)),
    vapidKeys: createVapidKeyStore(deps.dataSource, { defaultKey: deps.push.vapidDefaultKey }),
    notifications: createNotificationStore(deps.dataSource),
    groups: createGroupStore(deps.dataSource),
    inbox: createInboxStore(deps.dataSource),
    routeQueue,
    inboxQueue,
    status: createDeliveryStatus(redis, deps.redis.queuePrefix),
    endpointPolicy: deps.push.endpointPolicy,
    log,
    metrics: { registry, httpMetrics: createHttpMetrics(registry) },
    readiness: createReadiness([databaseCheck(deps.dataSource), redisCheck(redis), ...(deps.readiness ?? [])]),
    boardQueues: countedQueues,
    demo,
  };
  const closeQueues = async () => {
    await routeQueue.close();
    await reminders.close();
    await inboxQueue.close();
    await Promise.allSettled(countedQueues.map((queue) => queue.close()));
    await Promise.all([redis.quit(), counters?.quit()]).catch(() => undefined);
  };
  const app = createApp(appDeps);
  const server = createServer(app);
  let port: number;
  try {
    port = await listen(server, {
      host: deps.http.host,
      setting: deps.http.port,
      variable: 'HTTP_PORT',
      moveWhenTaken: deps.moveWhenTaken ?? false,
      onError: (err) => log.error({ err }, 'http listener error'),
    });
  } catch (err) {
    await closeQueues();
    throw err;
  }
  log.info({ port, demoPage: deps.demo !== undefined }, 'http api listening');
  if (deps.demo) log.warn(`demo page on at / (package "${DEMO_PACKAGE}"): anyone who reaches the API can sign in to that package; set DEMO_PAGE=false in production`);
  return {
    name: 'subscription-api',
    port,
    async close() {
      server.closeIdleConnections();
      await closeServer(server);
      await closeQueues();
    },
  };
}

/**
 * Subscribes that arrive while one is being written are written together (bench:api: a
 * statement per subscribe left MariaDB and the round trips as the limit).
 */
function groupedUpserts(store: SubscriptionStore): SubscriptionStore {
  return { ...store, upsert: createGroupCommit((inputs) => store.upsertMany(inputs), { maxBatch: 200 }) };
}
