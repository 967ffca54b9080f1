import { UnrecoverableError, Worker } from 'bullmq';
import type { DataSource } from 'typeorm';
import type { PushConfig, RedisConfig } from '../../shared/config/index.js';
import { createSubscriptionStore, createVapidKeyStore } from '../../shared/database/index.js';
import { pushJobSchema } from '../../shared/events/index.js';
import type { Service } from '../../shared/lifecycle/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { connectRedis } from '../../shared/queue/index.js';
import { QUEUE_NAMES } from '../../shared/topics/index.js';
import { deliverPush } from './deliver-push.js';
import { createVapidKeyCache } from './vapid-key-cache.js';
import { createVapidAuthorizer } from './vapid-jwt.js';
import { createWebPushSender } from './web-push-sender.js';

export interface PushWorkerDeps {
  push: PushConfig;
  redis: RedisConfig & { url: string };
  dataSource: DataSource;
  log: Logger;
}

/** What a job remembers between attempts: endpoints that must not be sent to again. */
function settledSoFar(progress: unknown): string[] {
  const settled = (progress as { settled?: unknown } | null)?.settled;
  return Array.isArray(settled) ? settled.filter((s): s is string => typeof s === 'string') : [];
}

/**
 * Starts the BullMQ worker that delivers Web Push. The processor is thin: parse the job, call
 * `deliverPush`, and turn "some endpoints must be retried" into a failed attempt that BullMQ
 * retries with backoff, remembering which endpoints already settled.
 */
export async function startPushWorker(deps: PushWorkerDeps): Promise<Service> {
  const log = deps.log.child({ part: 'push-worker' });
  if (deps.push.endpointPolicy.allowInsecureLoopback) {
    log.warn('PUSH_ALLOW_INSECURE_LOOPBACK is on: pushes may go to http:// loopback endpoints');
  }
  const subscriptions = createSubscriptionStore(deps.dataSource);
  const sender = createWebPushSender({
    timeoutMs: deps.push.timeoutMs,
    connectionsPerOrigin: deps.push.concurrency,
  });
  const deliverDeps = {
    subscriptions,
    vapidKeyFor: createVapidKeyCache(createVapidKeyStore(deps.dataSource)),
    sender,
    authorizer: createVapidAuthorizer({ subject: deps.push.vapidSubject }),
    endpointPolicy: deps.push.endpointPolicy,
    log,
  };
  const connection = connectRedis(deps.redis.url, { log, role: 'push-worker' });
  const worker = new Worker(
    QUEUE_NAMES.push,
    async (job) => {
      const parsed = pushJobSchema.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`malformed push job: ${parsed.error.message}`);
      const settled = settledSoFar(job.progress);
      const report = await deliverPush(deliverDeps, parsed.data, new Set(settled));
      if (report.retry.length > 0) {
        await job.updateProgress({ settled: [...settled, ...report.settled] });
        throw new Error(`${report.retry.length} endpoint(s) to retry`);
      }
      return { expired: report.expired, ...report.counts };
    },
    { connection, prefix: deps.redis.queuePrefix, concurrency: deps.push.concurrency },
  );
  worker.on('error', (err) => log.warn({ err: err.message }, 'push worker error'));
  worker.on('failed', (job, err) =>
    log.warn({ jobId: job?.id, attempts: job?.attemptsMade, err: err.message }, 'push attempt failed'),
  );
  log.info({ concurrency: deps.push.concurrency }, 'push-worker started');

  return {
    name: 'push-worker',
    async close() {
      await worker.close();
      await sender.close();
      await connection.quit().catch(() => undefined);
    },
  };
}
