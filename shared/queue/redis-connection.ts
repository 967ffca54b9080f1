import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../logging/index.js';

/**
 * Opens a Redis connection for BullMQ. `failFast` is for producers serving a request: with no
 * offline queue, a command while Redis is down fails at once (the API answers 503) instead of
 * hanging the request. Workers wait and reconnect instead.
 */
export function connectRedis(
  url: string,
  options: { log: Logger; role: string; failFast?: boolean; autoPipelining?: boolean },
): Redis {
  const redisOptions: RedisOptions = {
    maxRetriesPerRequest: options.failFast ? 1 : null,
    enableOfflineQueue: !options.failFast,
    connectionName: `axion-push:${options.role}`,
    retryStrategy: (attempt) => Math.min(200 * attempt, 5_000),
    enableAutoPipelining: options.autoPipelining ?? false,
  };
  const redis = new Redis(url, redisOptions);
  let lastLogged = 0;
  redis.on('error', (err: Error) => {
    // A Redis outage emits an error per reconnect attempt; one line per 10 s is enough.
    if (Date.now() - lastLogged < 10_000) return;
    lastLogged = Date.now();
    options.log.warn({ err: err.message, role: options.role }, 'redis connection error');
  });
  return redis;
}
