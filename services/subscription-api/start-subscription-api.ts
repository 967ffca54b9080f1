import { createServer } from 'node:http';
import type { DataSource } from 'typeorm';
import type { AuthConfig, HttpConfig, PushConfig, RedisConfig } from '../../shared/config/index.js';
import {
  createNotificationStore,
  createSubscriptionStore,
  createVapidKeyStore,
} from '../../shared/database/index.js';
import { createDeliveryStatus } from '../../shared/delivery-status/index.js';
import { closeServer, listen, type Service } from '../../shared/lifecycle/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { connectRedis, createRouteQueue } from '../../shared/queue/index.js';
import { createAuthenticator } from './authenticate.js';
import { createApp } from './create-app.js';

export interface SubscriptionApiDeps {
  http: HttpConfig;
  auth: AuthConfig & { jwtSecret: string };
  push: Pick<PushConfig, 'endpointPolicy'>;
  redis: RedisConfig & { url: string };
  dataSource: DataSource;
  log: Logger;
  moveWhenTaken?: boolean;
}

export interface SubscriptionApi extends Service {
  port: number;
}

/** Starts the HTTP API: builds the app from real stores and the route queue, then listens. */
export async function startSubscriptionApi(deps: SubscriptionApiDeps): Promise<SubscriptionApi> {
  const log = deps.log.child({ part: 'subscription-api' });
  const redis = connectRedis(deps.redis.url, { log, role: 'api', failFast: true });
  const routeQueue = createRouteQueue({ connection: redis, prefix: deps.redis.queuePrefix, log });
  const app = createApp({
    auth: createAuthenticator(deps.auth),
    subscriptions: createSubscriptionStore(deps.dataSource),
    vapidKeys: createVapidKeyStore(deps.dataSource),
    notifications: createNotificationStore(deps.dataSource),
    routeQueue,
    status: createDeliveryStatus(redis, deps.redis.queuePrefix),
    endpointPolicy: deps.push.endpointPolicy,
    log,
  });
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
    await routeQueue.close();
    redis.disconnect();
    throw err;
  }
  log.info({ port }, 'http api listening');
  return {
    name: 'subscription-api',
    port,
    async close() {
      server.closeIdleConnections();
      await closeServer(server);
      await routeQueue.close();
      await redis.quit().catch(() => undefined);
    },
  };
}
