import { UnrecoverableError, Worker, type Job, type Queue } from 'bullmq';
import type { DataSource } from 'typeorm';
import type { PushConfig, RedisConfig } from '../../shared/config/index.js';
import { createSubscriptionStore, createVapidKeyStore } from '../../shared/database/index.js';
import { createDeliveryStatus } from '../../shared/delivery-status/index.js';
import { pushJobSchema, type PushJob } from '../../shared/events/index.js';
import { databaseCheck, redisCheck, type ReadinessCheck } from '../../shared/health/index.js';
import type { Service } from '../../shared/lifecycle/index.js';
import type { Logger } from '../../shared/logging/index.js';
import {
  countJobOutcomes,
  createPushMetrics,
  queueDepthSource,
  registerQueueDepth,
  type MetricsRegistry,
} from '../../shared/metrics/index.js';
import { connectRedis, openQueue } from '../../shared/queue/index.js';
import { QUEUE_NAMES } from '../../shared/topics/index.js';
import { deliverPush, type DeliverPushDeps, type SettledOutcome } from './deliver-push.js';
import { createOriginGate } from './origin-gate.js';
import { attemptDelay, GaveUpError, RetryLaterError, retryDelay } from './retry-policy.js';
import { createSafeLookup } from './safe-lookup.js';
import { createJobBudget } from './job-budget.js';
import { createSendSlots } from './send-slots.js';
import { createSettledLedger } from './settled-ledger.js';
import { startStaleSweep } from './sweep-stale.js';
import { createVapidKeyCache } from './vapid-key-cache.js';
import { createVapidAuthorizer } from './vapid-jwt.js';
import { createWebPushSender, type PushSender } from './web-push-sender.js';

/** Users (or one-user jobs) a worker holds at once, per send slot of one push service. */
const USERS_PER_SEND_SLOT = 8;

export interface PushWorkerDeps {
  push: PushConfig;
  redis: RedisConfig & { url: string };
  dataSource: DataSource;
  log: Logger;
  /** Where send counts and latencies are reported (`GET /metrics`). */
  metrics?: MetricsRegistry;
  /** Replaces the HTTP sender (tests: DNS answers, scripted failures). */
  sender?: PushSender;
  now?: () => number;
}

export interface PushWorker extends Service {
  /** What the worker needs to deliver: the database and Redis. */
  readiness: ReadinessCheck[];
}

/** See `PushConfig.shutdownTimeoutMs`. */
export const DEFAULT_PUSH_SHUTDOWN_TIMEOUT_MS = 20_000;

/**
 * Starts the BullMQ worker that delivers Web Push. The processor is thin: parse the job, call
 * `deliverPush` with the endpoints already settled, then either finish, or schedule the next
 * attempt no sooner than the push services asked, or give up as expired when that would be
 * after the event's TTL.
 */
export async function startPushWorker(deps: PushWorkerDeps): Promise<PushWorker> {
  const log = deps.log.child({ part: 'push-worker' });
  const now = deps.now ?? Date.now;
  if (deps.push.endpointPolicy.allowInsecureLoopback) {
    log.warn('PUSH_ALLOW_INSECURE_LOOPBACK is on: pushes may go to http:// loopback endpoints');
  }
  const connection = connectRedis(deps.redis.url, { log, role: 'push-worker' });
  const prefix = deps.redis.queuePrefix;
  // Progress and counters on a plain connection: a transaction on BullMQ's connection copies
  // its Lua scripts each time (docs/performance.md).
  const state = connectRedis(deps.redis.url, { log, role: 'push-worker-state' });
  const ledger = createSettledLedger(state, prefix);
  const status = createDeliveryStatus(state, prefix);
  const sender =
    deps.sender ??
    createWebPushSender({
      timeoutMs: deps.push.timeoutMs,
      connectionsPerOrigin: deps.push.concurrency,
      // Every connection goes to an address checked to be public (or loopback, when allowed).
      lookup: createSafeLookup({ allowLoopback: deps.push.endpointPolicy.allowInsecureLoopback }),
      ...(deps.push.http2 ? { http2: deps.push.http2 } : {}),
    });
  const subscriptions = createSubscriptionStore(deps.dataSource);
  const deliverDeps: DeliverPushDeps = {
    subscriptions,
    vapidKeyFor: createVapidKeyCache(
      createVapidKeyStore(deps.dataSource, { defaultKey: deps.push.vapidDefaultKey }),
    ),
    sender,
    authorizer: createVapidAuthorizer({ subject: deps.push.vapidSubject }),
    endpointPolicy: deps.push.endpointPolicy,
    originGate: createOriginGate(now),
    slots: createSendSlots(deps.push.concurrency),
    onSent: deps.metrics && createPushMetrics(deps.metrics).observeSend,
    log,
    now,
  };
  const heldUsers = deps.push.concurrency * USERS_PER_SEND_SLOT;
  const budget = createJobBudget({ users: heldUsers, maxJobs: heldUsers });

  async function process(job: Job): Promise<Record<string, unknown>> {
    const parsed = pushJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`malformed push job: ${parsed.error.message}`);
    const data = parsed.data;
    const jobId = job.id!;
    worker.concurrency = budget.observe(data.users.length);
    // Only a job started before can have settled endpoints: skip the read on a first start.
    const earlier = job.attemptsStarted > 1 ? await ledger.load(jobId) : new Map<string, SettledOutcome>();
    const report = await deliverPush(
      {
        ...deliverDeps,
        onSettled: (hash, outcome) => ledger.add(jobId, hash, outcome, data.expiresAt),
      },
      data,
      new Set(earlier.keys()),
    );
    // Counted once, when the job ends, over every attempt (a killed one included).
    const settled = tally([...earlier.values(), ...report.settled.values()]);
    log.info(
      { eventId: data.eventId, users: data.users.length, ...report.counts, requestId: data.requestId },
      'push job attempt done',
    );
    if (report.retry.length === 0) {
      await status.add(data.eventId, { ...settled, expired: report.expiredCount, pushDone: data.users.length });
      return { ...settled, expired: report.expiredCount };
    }
    const delay = retryDelay({ attemptsMade: job.attemptsMade + 1, retryAfterMs: report.retryAfterMs });
    if (now() + delay >= data.expiresAt) {
      // Waiting as asked would deliver after the TTL: the message is no longer worth sending.
      log.info({ eventId: data.eventId, endpoints: report.retry.length }, 'push expired before it could be retried');
      await status.add(data.eventId, { ...settled, expired: report.retry.length, pushDone: data.users.length });
      return { ...settled, expired: report.retry.length };
    }
    // The worker's own limit counts, whatever the job was queued with.
    if (job.attemptsMade + 1 >= deps.push.maxAttempts) {
      await status.add(data.eventId, {
        ...settled,
        failed: settled.failed + report.retry.length,
        pushDone: data.users.length,
      });
      throw new GaveUpError(report.retry.length, job.attemptsMade + 1);
    }
    throw new RetryLaterError(delay, report.retry.length);
  }

  const worker = new Worker(QUEUE_NAMES.push, process, {
    connection,
    prefix,
    // A job waits for all of its sends, so jobs held by a push service that answers slowly
    // (each within its own PUSH_CONCURRENCY slots) must leave jobs free for the others; sized
    // by users so that large jobs are left for other worker processes (job-budget.ts).
    concurrency: budget.initial,
    lockDuration: deps.push.jobLockMs,
    // Look for jobs of dead workers as often as a lock can expire.
    stalledInterval: deps.push.jobLockMs,
    settings: {
      backoffStrategy: (attemptsMade, _type, err) => attemptDelay(attemptsMade, err),
    },
  });
  worker.on('error', (err) => log.warn({ err: err.message }, 'push worker error'));
  // The depth of the queue this worker takes jobs from, beside its job outcomes.
  let counted: Queue | undefined;
  if (deps.metrics) {
    counted = openQueue(QUEUE_NAMES.push, { connection: state, prefix, log });
    countJobOutcomes(deps.metrics, worker);
    registerQueueDepth(deps.metrics, [queueDepthSource(counted)]);
  }
  worker.on('failed', (job, err) => {
    const final =
      job !== undefined && (err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1));
    log.warn({ jobId: job?.id, attempts: job?.attemptsMade, final, err: err.message }, 'push attempt failed');
    // GaveUpError was counted by the processor; any other final failure still ends the job.
    if (final && job && !(err instanceof GaveUpError)) {
      const failed = err instanceof RetryLaterError ? err.endpoints : 1;
      const data = job.data as PushJob;
      void status.add(data.eventId, { failed, pushDone: data.users?.length ?? 1 }).catch(() => undefined);
    }
  });
  const sweep = startStaleSweep({ subscriptions, log, now }, deps.push.staleAfterDays);
  log.info({ sendSlotsPerOrigin: deps.push.concurrency, usersAtOnce: heldUsers }, 'push-worker started');

  const shutdownTimeoutMs = deps.push.shutdownTimeoutMs ?? DEFAULT_PUSH_SHUTDOWN_TIMEOUT_MS;
  return {
    name: 'push-worker',
    readiness: [databaseCheck(deps.dataSource), redisCheck(connection)],
    async close() {
      await sweep.close();
      // Takes no new job and waits for the jobs in hand to finish their sends and be recorded
      // as done. Past the deadline it stops waiting and aborts the requests under way: the jobs'
      // locks lapse and another worker resumes them, skipping every endpoint already settled (the
      // ledger), so only a request whose answer was never read can go out again.
      const drained = await settlesWithin(worker.close(), shutdownTimeoutMs);
      if (!drained) {
        log.warn({ shutdownTimeoutMs }, 'push jobs still running at the shutdown deadline; left for another worker');
      }
      if (!deps.sender) await sender.close({ abort: !drained });
      await counted?.close().catch(() => undefined);
      await Promise.all([connection.quit(), state.quit()]).catch(() => undefined);
    },
  };
}

/** Whether `promise` settled within `ms` (a rejection counts: it is the closer's to log). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = promise.then(
    () => true,
    () => true,
  );
  const result = await Promise.race([settled, deadline]);
  clearTimeout(timer);
  return result;
}

function tally(outcomes: SettledOutcome[]): { sent: number; cleaned: number; failed: number } {
  const counts = { sent: 0, cleaned: 0, failed: 0 };
  for (const outcome of outcomes) {
    if (outcome === 'sent') counts.sent++;
    else if (outcome === 'gone') counts.cleaned++;
    else counts.failed++;
  }
  return counts;
}
