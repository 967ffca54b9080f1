import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import type { ApiKey, RateLimitSettings } from '../../shared/config/index.js';
import {
  createGroupStore,
  createInboxStore,
  createNotificationStore,
  createSubscriptionStore,
  createVapidKeyStore,
  startDatabase,
  type Database,
} from '../../shared/database/index.js';
import { createDeliveryStatus } from '../../shared/delivery-status/index.js';
import { DEFAULT_PUSH_HOSTS, type EndpointPolicy } from '../../shared/push-endpoints/index.js';
import {
  connectRedis,
  createInboxQueue,
  createRouteQueue,
  type InboxQueue,
  type RouteQueue,
} from '../../shared/queue/index.js';
import { createAuthenticator } from '../../shared/auth/index.js';
import { createApp } from '../../services/subscription-api/create-app.js';
import {
  startSubscriptionApi,
  type SubscriptionApi,
  type SubscriptionApiDeps,
} from '../../services/subscription-api/start-subscription-api.js';
import { createRateLimits } from '../../services/subscription-api/rate-limits.js';
import type { Logger } from '../../shared/logging/index.js';
import { obliterateQueues } from './queues.js';
import { testLogger } from './silent-logger.js';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from './test-databases.js';
import { TEST_JWT_SECRET } from './tokens.js';

export interface TestApiOptions {
  /** Where the stores live: a fresh MariaDB database or a fresh SQLite file. */
  database: 'mysql' | 'sqlite';
  /** Service and admin keys the API accepts (users sign in with tokens made by `userToken`). */
  apiKeys?: readonly ApiKey[];
  /** Defaults to the real push services, with loopback refused. */
  endpointPolicy?: EndpointPolicy;
  /** Per-caller request limits, counted under this API's prefix (or `prefix`); absent: none. */
  rateLimits?: RateLimitSettings;
  /** The queue and rate-limit prefix; two APIs given the same one share their counts. */
  prefix?: string;
  /** Defaults to `TEST_REDIS_URL`. */
  redisUrl?: string;
  /** Defaults to a silent logger. */
  log?: Logger;
  /** Serve the demo page and its `/demo/...` routes. */
  demo?: boolean;
  /** Reverse proxies whose `X-Forwarded-For` the API believes. */
  trustedProxies?: readonly string[];
}

export interface ApiAnswer {
  status: number;
  body: Record<string, any>;
  headers: Headers;
}

export interface TestApi {
  /** `http://127.0.0.1:<port>` */
  base: string;
  /** The connection behind the route queue and delivery status, to look at what the API queued. */
  redis: Redis;
  /** The queue prefix of this API alone. */
  prefix: string;
  /** The API's database, for tests that put rows in place or run a router beside it. */
  dataSource: DataSource;
  /** Sends `body` as JSON (a string is sent as it is) and reads the JSON answer. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiAnswer>;
  /** Stops the server, removes the queues and keys under `prefix`, and drops the database; runs every step. */
  close(): Promise<void>;
}

/**
 * The subscription-api's Express app (`createApp`) on real stores and a Redis route queue with a
 * prefix of its own, listening on a free loopback port.
 */
export async function startTestApi(options: TestApiOptions): Promise<TestApi> {
  const prefix = options.prefix ?? `test-${randomUUID()}`;
  const log = options.log ?? testLogger();
  let testDb: TestDatabase | undefined;
  let database: Database | undefined;
  let redis: Redis | undefined;
  let routeQueue: RouteQueue | undefined;
  let inboxQueue: InboxQueue | undefined;
  let server: Server | undefined;

  async function close(): Promise<void> {
    const steps: (() => Promise<unknown>)[] = [
      async () => {
        if (server?.listening) await new Promise((resolve) => server!.close(resolve));
      },
      async () => redis && obliterateQueues(redis, prefix),
      async () => routeQueue?.close(),
      async () => inboxQueue?.close(),
      async () => redis?.quit(),
      async () => database?.close(),
      async () => testDb?.drop(),
    ];
    const failures: unknown[] = [];
    for (const step of steps) await step().catch((err: unknown) => failures.push(err));
    if (failures.length > 0) throw new AggregateError(failures, 'test API clean-up failed');
  }

  try {
    testDb = await createTestDatabase(options.database);
    database = await startDatabase(testDb.config, testLogger());
    redis = connectRedis(options.redisUrl ?? TEST_REDIS_URL, { log, role: 'test', failFast: true });
    // Without an offline queue, a command sent before the connection is up fails (the rate
    // limits would pass the first requests uncounted).
    if (redis.status !== 'ready') await once(redis, 'ready');
    routeQueue = createRouteQueue({ connection: redis, prefix, log });
    inboxQueue = createInboxQueue({ connection: redis, prefix, log });
    const auth = createAuthenticator({ jwtSecret: TEST_JWT_SECRET, apiKeys: options.apiKeys ?? [] });
    const settings = options.rateLimits;
    const app = createApp({
      auth,
      rateLimits: settings && createRateLimits({ redis, prefix, auth, settings, log }),
      trustedProxies: options.trustedProxies,
      subscriptions: createSubscriptionStore(database.dataSource),
      vapidKeys: createVapidKeyStore(database.dataSource),
      notifications: createNotificationStore(database.dataSource),
      groups: createGroupStore(database.dataSource),
      inbox: createInboxStore(database.dataSource),
      routeQueue,
      inboxQueue,
      status: createDeliveryStatus(redis, prefix),
      endpointPolicy: options.endpointPolicy ?? { allowedHosts: DEFAULT_PUSH_HOSTS, allowInsecureLoopback: false },
      log,
      ...(options.demo && { demo: { jwtSecret: TEST_JWT_SECRET, mqttWsPort: null, topicRoot: 'axion' } }),
    });
    server = createServer(app);
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(0, '127.0.0.1', () => {
        server!.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    // Leave nothing behind when the start fails part-way; the start's error is the one to see.
    await close().catch(() => undefined);
    throw err;
  }

  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    redis,
    prefix,
    dataSource: database!.dataSource,
    async call(method, path, body, headers = {}) {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, any>, headers: res.headers };
    },
    close,
  };
}

/**
 * The API as a deployment starts it (`startSubscriptionApi`) on `dataSource`, listening on a free
 * loopback port, with users signing in by `userToken`, the real push hosts and queues under
 * `prefix`; `more` replaces any of these.
 */
export function startRealTestApi(
  dataSource: DataSource,
  prefix: string,
  more: Partial<SubscriptionApiDeps> = {},
): Promise<SubscriptionApi> {
  return startSubscriptionApi({
    http: { host: '127.0.0.1', port: { port: 0, explicit: true } },
    auth: { jwtSecret: TEST_JWT_SECRET, apiKeys: [] },
    push: { endpointPolicy: { allowedHosts: DEFAULT_PUSH_HOSTS, allowInsecureLoopback: false } },
    redis: { url: TEST_REDIS_URL, queuePrefix: prefix },
    dataSource,
    log: testLogger(),
    ...more,
  });
}
