import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { PushJob, RouteJob } from '../events/index.js';
import type { Logger } from '../logging/index.js';
import { QUEUE_NAMES, pushJobId, routeJobId } from '../topics/index.js';

/** How long finished jobs are kept: their ids are what turns a repeat into a no-op. */
export const DEDUPLICATION_WINDOW_SECONDS = 24 * 3600;

/** Where accepted events wait for a router. */
export interface RouteQueue {
  /** Adds the event once; adding the same id again while it is retained does nothing. */
  add(job: RouteJob, delayMs: number): Promise<void>;
  /** Adds events to route now, in one round trip; each once, as `add` does. */
  addBulk(jobs: readonly RouteJob[]): Promise<void>;
  close(): Promise<void>;
}

/** Where per-user deliveries wait for a push-worker. */
export interface PushQueue {
  addBulk(jobs: readonly PushJob[]): Promise<void>;
  close(): Promise<void>;
}

export interface QueueSettings {
  connection: Redis;
  log: Logger;
  prefix: string;
  /** Push delivery attempts before a job fails for good. */
  pushAttempts?: number;
}

const retained: Pick<JobsOptions, 'removeOnComplete' | 'removeOnFail'> = {
  removeOnComplete: { age: DEDUPLICATION_WINDOW_SECONDS },
  removeOnFail: { age: 7 * DEDUPLICATION_WINDOW_SECONDS },
};

function openQueue(name: string, settings: QueueSettings): Queue {
  const queue = new Queue(name, { connection: settings.connection, prefix: settings.prefix });
  queue.on('error', (err) => settings.log.warn({ err: err.message, queue: name }, 'queue error'));
  return queue;
}

export function createRouteQueue(settings: QueueSettings): RouteQueue {
  const queue = openQueue(QUEUE_NAMES.route, settings);
  const options = (job: RouteJob, delayMs: number): JobsOptions => ({
    ...retained,
    jobId: routeJobId(job.id),
    delay: Math.max(0, delayMs),
    attempts: 20,
    backoff: { type: 'exponential', delay: 500, jitter: 0.5 },
  });
  return {
    async add(job, delayMs) {
      await queue.add('route', job, options(job, delayMs));
    },
    async addBulk(jobs) {
      if (jobs.length === 0) return;
      await queue.addBulk(jobs.map((data) => ({ name: 'route', data, opts: options(data, 0) })));
    },
    close: () => queue.close(),
  };
}

export function createPushQueue(settings: QueueSettings): PushQueue {
  const queue = openQueue(QUEUE_NAMES.push, settings);
  const attempts = settings.pushAttempts ?? 8;
  return {
    async addBulk(jobs) {
      if (jobs.length === 0) return;
      await queue.addBulk(
        jobs.map((data) => ({
          name: 'push',
          data,
          opts: {
            ...retained,
            jobId: pushJobId(data.eventId, data.chunk ?? data.users),
            attempts,
            // The push-worker computes each delay itself (Retry-After, TTL): see retry-policy.ts.
            backoff: { type: 'push-retry' },
          },
        })),
      );
    },
    close: () => queue.close(),
  };
}
