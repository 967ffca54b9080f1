import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { buildMessage, type Event, type PushJob, type RouteJob } from '../events/index.js';
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
  /**
   * Cancels an event's route job if no router has taken it yet, atomically (see `CANCEL_SCRIPT`).
   * The job's record stays, marked, until `keepUntil` (epoch ms), so adding the same event id
   * again in that time does nothing (no intake can bring a cancelled event back).
   */
  cancel(eventId: string, keepUntil: number): Promise<CancelOutcome>;
  /** When the event's route job was cancelled; null when it was not (or is no longer known). */
  cancelledAt(eventId: string): Promise<Date | null>;
  /**
   * Of these events, those whose route job the queue still holds: waiting, scheduled (`sendAt`),
   * being routed or retried, cancelled, or kept after it ended (its id still turns a repeat of
   * the event into a no-op). One round trip.
   */
  holding(eventIds: readonly string[]): Promise<Set<string>>;
  /**
   * Queues a push job that needs no routing, straight to the push queue (a test push to one
   * subscription, `POST /v1/subscriptions/test`). The push queue is opened on first use.
   */
  addPush(job: PushJob): Promise<void>;
  close(): Promise<void>;
}

/**
 * `cancelled`: no router will take the event (`already`: an earlier cancel did it); `fired`: a
 * router has taken it (routing, routed, or failed); `missing`: no route job under that id.
 */
export type CancelOutcome =
  | { state: 'cancelled'; at: Date; already: boolean }
  | { state: 'fired' }
  | { state: 'missing' };

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

export const retained: Pick<JobsOptions, 'removeOnComplete' | 'removeOnFail'> = {
  removeOnComplete: { age: DEDUPLICATION_WINDOW_SECONDS },
  removeOnFail: { age: 7 * DEDUPLICATION_WINDOW_SECONDS },
};

/** A BullMQ queue on an existing connection, its errors logged (producers, counting, the board). */
export function openQueue(name: string, settings: QueueSettings): Queue {
  const queue = new Queue(name, { connection: settings.connection, prefix: settings.prefix });
  queue.on('error', (err) => settings.log.warn({ err: err.message, queue: name }, 'queue error'));
  return queue;
}

/** The job hash field that marks a cancelled route job. */
const CANCELLED_FIELD = 'axionCancelledAt';

/**
 * One script, so no worker can take the job between the check and the removal: BullMQ moves a
 * job from `delayed`/`wait` to `active` and stamps `processedOn` in one script too. A job with
 * `processedOn` was taken at least once (a retried one waits in `delayed` again): it fired.
 * The job hash is kept, marked, with an expiry: BullMQ's add is a no-op while it exists.
 * KEYS: job, delayed, wait, paused, prioritized. ARGV: job id, now (ms), keep until (ms).
 */
const CANCEL_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
local at = redis.call('HGET', KEYS[1], '${CANCELLED_FIELD}')
if at then return {'already', at} end
if redis.call('HEXISTS', KEYS[1], 'processedOn') == 1 then return {'fired'} end
local removed = redis.call('ZREM', KEYS[2], ARGV[1]) + redis.call('LREM', KEYS[3], 0, ARGV[1])
  + redis.call('LREM', KEYS[4], 0, ARGV[1]) + redis.call('ZREM', KEYS[5], ARGV[1])
if removed == 0 then return {'fired'} end
redis.call('HSET', KEYS[1], '${CANCELLED_FIELD}', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return {'cancelled', ARGV[2]}
`;

export function createRouteQueue(settings: QueueSettings): RouteQueue {
  const queue = openQueue(QUEUE_NAMES.route, settings);
  let pushQueue: PushQueue | undefined;
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
    async cancel(eventId, keepUntil) {
      const jobId = routeJobId(eventId);
      const { delayed, wait, paused, prioritized } = queue.keys;
      const keys = [queue.toKey(jobId), delayed!, wait!, paused!, prioritized!];
      const now = Date.now();
      const [state, at] = (await settings.connection.eval(
        CANCEL_SCRIPT, keys.length, ...keys, jobId, now, Math.max(keepUntil, now),
      )) as [string, string?];
      if (state === 'cancelled' || state === 'already') {
        return { state: 'cancelled', at: new Date(Number(at)), already: state === 'already' };
      }
      return { state: state === 'fired' ? 'fired' : 'missing' };
    },
    async cancelledAt(eventId) {
      const at = await settings.connection.hget(queue.toKey(routeJobId(eventId)), CANCELLED_FIELD);
      return at === null ? null : new Date(Number(at));
    },
    async holding(eventIds) {
      const pipeline = settings.connection.pipeline();
      for (const id of eventIds) pipeline.exists(queue.toKey(routeJobId(id)));
      const answers = (await pipeline.exec()) ?? [];
      const held = new Set<string>();
      answers.forEach(([err, exists], i) => {
        if (err) throw err;
        if (exists === 1) held.add(eventIds[i]!);
      });
      return held;
    },
    async addPush(job) {
      pushQueue ??= createPushQueue(settings);
      await pushQueue.addBulk([job]);
    },
    async close() {
      const closing = await Promise.allSettled([queue.close(), pushQueue?.close()]);
      const failed = closing.find((c) => c.status === 'rejected');
      if (failed) throw failed.reason;
    },
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

/**
 * A push job that needs no routing: an event for one subscription of one user (a test push, a
 * reminder), with the event's TTL counted from `now`.
 */
export function subscriptionPushJob(
  event: Event,
  to: { id: string; package: string; user: string; endpointHash: string; createdAt: string },
  now: number,
): PushJob {
  const { user: _user, ...message } = buildMessage(event, to);
  return {
    eventId: to.id,
    package: to.package,
    users: [to.user],
    message,
    ttl: event.ttl,
    urgency: event.urgency,
    expiresAt: now + event.ttl * 1000,
    endpointHash: to.endpointHash,
  };
}
