import { z } from 'zod';
import type { SubscriptionKey, SubscriptionView, UpsertSubscription } from '../database/index.js';
import { nameSchema } from '../events/index.js';
import { QUEUE_NAMES, reminderSchedulerId } from '../topics/index.js';
import { openQueue, retained, type QueueSettings } from './queues.js';

/** A subscription's daily reminder: when (UTC), which notification, and its text. */
export type DailyReminder = NonNullable<UpsertSubscription['reminder']>;

/** The UTC time of day a reminder fires. */
export type ReminderTime = Pick<DailyReminder, 'utcHour' | 'minute'>;

/**
 * A `reminders` job (the scheduler's template): which subscription, and the time it was
 * scheduled for. The router reads the rest (active?, type, message) from the subscription when
 * it fires, so a change of message needs no new scheduler.
 */
export const reminderJobSchema = z.object({
  user: nameSchema,
  package: nameSchema,
  endpointHash: z.string().regex(/^[0-9a-f]{64}$/),
  utcHour: z.number().int().min(0).max(23),
  minute: z.number().int().min(0).max(59),
});
export type ReminderJob = z.infer<typeof reminderJobSchema>;

/** The BullMQ job schedulers of daily reminders, one per subscription. */
export interface ReminderSchedules {
  /** Creates the subscription's scheduler, or moves it to the job's time. */
  upsert(job: ReminderJob): Promise<void>;
  /** Removes the subscription's scheduler and its next firing; false when it had none. */
  remove(key: SubscriptionKey): Promise<boolean>;
  close(): Promise<void>;
}

export interface ReminderSettings extends QueueSettings {
  /**
   * The cron pattern of a reminder time, read in UTC; `dailyPattern` unless a test needs a
   * firing within seconds (a six-field pattern with a seconds field).
   */
  pattern?: (time: ReminderTime) => string;
}

/** `m h * * *`: every day at that minute of that UTC hour. */
export function dailyPattern(time: ReminderTime): string {
  return `${time.minute} ${time.utcHour} * * *`;
}

/** The reminder a stored subscription carries, or null when it has none. */
export function reminderOf(row: SubscriptionView): DailyReminder | null {
  const { notifyUtcHour: utcHour, notifyMinute: minute, notifyType: type } = row;
  if (utcHour == null || minute == null || !type) return null;
  return { utcHour, minute, type, message: row.notifyMessage ?? null };
}

/**
 * Opens the `reminders` queue for scheduling. BullMQ keeps one next job per scheduler and adds
 * the following one when a worker takes it, so several workers never take one firing twice, and
 * a firing that fell due while no worker ran waits to be taken (late, never skipped).
 */
export function createReminderSchedules(settings: ReminderSettings): ReminderSchedules {
  const queue = openQueue(QUEUE_NAMES.reminders, settings);
  const pattern = settings.pattern ?? dailyPattern;
  return {
    async upsert(job) {
      await queue.upsertJobScheduler(
        reminderSchedulerId(job),
        { pattern: pattern(job), tz: 'UTC' },
        {
          name: 'reminder',
          data: job,
          opts: {
            ...retained,
            attempts: 10,
            backoff: { type: 'exponential', delay: 1_000, jitter: 0.5 },
          },
        },
      );
    },
    remove: (key) => queue.removeJobScheduler(reminderSchedulerId(key)),
    close: () => queue.close(),
  };
}
