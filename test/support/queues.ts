import { Queue } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { QUEUE_NAMES } from '../../shared/topics/index.js';

/** Redis glob characters, escaped so that a prefix matches only itself in `SCAN MATCH`. */
const escapeGlob = (text: string) => text.replace(/[*?[\]\\]/g, '\\$&');

/**
 * Removes everything a test left in Redis under `prefix`: the route and push queues (obliterated
 * by force, so active jobs go too), then every other key under `<prefix>:*` (the settled ledger
 * and the delivery counters live beside the queues). Given a URL it opens and quits its own
 * connection; given a connection it leaves it open. Runs every step, then reports what failed.
 */
export async function obliterateQueues(redisOrUrl: string | Redis, prefix: string): Promise<void> {
  const redis = typeof redisOrUrl === 'string' ? new Redis(redisOrUrl, { maxRetriesPerRequest: null }) : redisOrUrl;
  const failures: unknown[] = [];
  try {
    for (const name of Object.values(QUEUE_NAMES)) {
      const queue = new Queue(name, { connection: redis, prefix });
      try {
        await queue.obliterate({ force: true });
      } catch (err) {
        failures.push(err);
      } finally {
        await queue.close().catch((err: unknown) => failures.push(err));
      }
    }
    try {
      for await (const keys of redis.scanStream({ match: `${escapeGlob(prefix)}:*`, count: 500 })) {
        if ((keys as string[]).length > 0) await redis.del(...(keys as string[]));
      }
    } catch (err) {
      failures.push(err);
    }
  } finally {
    if (redis !== redisOrUrl) await redis.quit().catch((err: unknown) => failures.push(err));
  }
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, `clearing the queues under ${prefix} failed`);
}

/**
 * For each test of the calling `describe`: a Redis connection and a key prefix of its own;
 * afterwards everything under the prefix is removed and the connection closed.
 */
export function redisPerTest(url: string): { readonly redis: Redis; readonly prefix: string } {
  const scope = { redis: undefined as unknown as Redis, prefix: '' };
  beforeEach(function () {
    scope.redis = new Redis(url);
    scope.prefix = `test-${randomUUID()}`;
  });
  afterEach(async function () {
    await obliterateQueues(scope.redis, scope.prefix);
    await scope.redis.quit();
  });
  return scope;
}
