import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { SubscriptionStore } from '../../shared/database/index.js';
import type { Service } from '../../shared/lifecycle/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { countJobOutcomes, type MetricsRegistry } from '../../shared/metrics/index.js';
import {
  createReminderSchedules,
  reminderJobSchema,
  reminderOf,
  subscriptionPushJob,
  type DailyReminder,
  type PushQueue,
  type ReminderJob,
  type ReminderSchedules,
  type ReminderSettings,
} from '../../shared/queue/index.js';
import { QUEUE_NAMES, reminderEventId, reminderSchedulerId } from '../../shared/topics/index.js';

export interface FireReminderDeps {
  subscriptions: Pick<SubscriptionStore, 'list'>;
  pushQueue: Pick<PushQueue, 'addBulk'>;
  reminders: Pick<ReminderSchedules, 'upsert' | 'remove'>;
  log: Logger;
}

/**
 * `queued`: a push job for the subscription (or it was already queued for this firing).
 * `removed`: the subscription is inactive or has no reminder any more; its scheduler is gone.
 * `moved`: the scheduler was at another time than the subscription asks for; it was moved.
 */
export type FireOutcome = 'queued' | 'removed' | 'moved';

/** A day's reminder is worth delivering for half a day; the next one supersedes it anyway. */
export const REMINDER_TTL_SECONDS = 12 * 3600;

const TEXT: Record<DailyReminder['type'], { title: string; body: string }> = {
  DAILY_CHECK: { title: 'Daily check', body: 'Time for your daily check.' },
  DIRECT_NOTIFICATION: { title: 'Reminder', body: 'This is your daily reminder.' },
};

/**
 * One firing of a subscription's daily reminder: a push job for that subscription alone. Its
 * event id is made of the scheduler and the firing time (`firesAt`, epoch ms), so a retry, or a
 * second router taking the same firing, queues no second push. A subscription that is inactive
 * (unsubscribed, 404/410, stale) or has no reminder any more gets nothing, and its scheduler is
 * removed here: the push-worker and the stale sweep need not know about reminders.
 */
export async function fireReminder(
  deps: FireReminderDeps,
  job: ReminderJob,
  firesAt: number,
): Promise<FireOutcome> {
  const key = { user: job.user, package: job.package, endpointHash: job.endpointHash };
  const reminder = await storedReminder(deps, job);
  if (!reminder) {
    await deps.reminders.remove(key);
    // A subscribe that stored a reminder while this ran has upserted the scheduler removed
    // just now: put it back.
    const renewed = await storedReminder(deps, job);
    if (renewed) {
      await deps.reminders.upsert({ ...key, utcHour: renewed.utcHour, minute: renewed.minute });
    }
    deps.log.info(
      { ...key, restored: renewed !== null },
      'reminder stopped: subscription inactive or without one',
    );
    return 'removed';
  }
  if (reminder.utcHour !== job.utcHour || reminder.minute !== job.minute) {
    // The API stored a new time but could not move the scheduler (Redis down): the user no
    // longer asked for this time. Move it now and send nothing.
    await deps.reminders.upsert({ ...key, utcHour: reminder.utcHour, minute: reminder.minute });
    deps.log.warn({ ...key }, 'reminder scheduler was at an old time; moved');
    return 'moved';
  }
  const schedulerId = reminderSchedulerId(key);
  const id = reminderEventId(schedulerId, firesAt);
  const text = TEXT[reminder.type];
  const push = subscriptionPushJob(
    {
      title: text.title,
      body: reminder.message ?? text.body,
      // One tag per subscription: today's reminder replaces yesterday's on the device.
      tag: `reminder-${schedulerId}`,
      data: { reminder: reminder.type },
      ttl: REMINDER_TTL_SECONDS,
      urgency: 'normal',
      delivery: 'always',
    },
    { ...key, id, createdAt: new Date(firesAt).toISOString() },
    Date.now(),
  );
  await deps.pushQueue.addBulk([push]);
  return 'queued';
}

async function storedReminder(
  deps: FireReminderDeps,
  job: ReminderJob,
): Promise<DailyReminder | null> {
  const rows = await deps.subscriptions.list(job.user, job.package);
  const row = rows.find((r) => r.endpointHash === job.endpointHash);
  return row?.active === 'Y' ? reminderOf(row) : null;
}

/** When a scheduler's job was due: BullMQ stamps it as `prevMillis` (and in the job id). */
function firingTime(job: Job): number {
  const stamped = job.opts.prevMillis ?? Number(job.id?.slice(job.id.lastIndexOf(':') + 1));
  return Number.isSafeInteger(stamped) ? stamped : job.timestamp + (job.delay ?? 0);
}

export interface ReminderWorkerDeps extends Omit<FireReminderDeps, 'reminders'> {
  /** The worker's connection (BullMQ blocks on a duplicate of it). */
  connection: Redis;
  /** Where schedulers are removed or moved from. */
  producer: Redis;
  prefix: string;
  /** The reminders' cron pattern; tests give one with seconds (see `ReminderSettings`). */
  pattern?: ReminderSettings['pattern'];
  /** Where firings are counted by outcome. */
  metrics?: MetricsRegistry | undefined;
}

/**
 * Starts a worker of the `reminders` queue: each firing of a subscription's daily reminder
 * becomes one push job for that subscription (`fireReminder`). Any number of routers may run
 * one: BullMQ hands each firing to one of them.
 */
export function startReminderWorker(deps: ReminderWorkerDeps): Service {
  const { log } = deps;
  const reminders = createReminderSchedules({
    connection: deps.producer,
    prefix: deps.prefix,
    log,
    pattern: deps.pattern,
  });
  const fireDeps = { ...deps, reminders };
  const worker = new Worker(
    QUEUE_NAMES.reminders,
    async (job) => {
      const parsed = reminderJobSchema.safeParse(job.data);
      if (!parsed.success) {
        throw new UnrecoverableError(`malformed reminder job: ${parsed.error.message}`);
      }
      return fireReminder(fireDeps, parsed.data, firingTime(job));
    },
    { connection: deps.connection, prefix: deps.prefix, concurrency: 4 },
  );
  worker.on('error', (err) => log.warn({ err: err.message }, 'reminder worker error'));
  if (deps.metrics) countJobOutcomes(deps.metrics, worker);
  worker.on('failed', (job, err) =>
    log.warn(
      { jobId: job?.id, attempts: job?.attemptsMade, err: err.message },
      'reminder attempt failed',
    ),
  );
  return {
    name: 'reminder-worker',
    async close() {
      const closing = await Promise.allSettled([worker.close(), reminders.close()]);
      const failed = closing.find((c) => c.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}
