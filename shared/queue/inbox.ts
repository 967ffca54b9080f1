import { z } from 'zod';
import { nameSchema } from '../events/index.js';
import { INBOX_PURGE_SCHEDULER_ID, QUEUE_NAMES } from '../topics/index.js';
import { openQueue, type QueueSettings } from './queues.js';

/** An `inbox` job named `unseen`: the user's unseen count changed outside routing (marked seen). */
export const inboxUnseenJobSchema = z.object({ package: nameSchema, user: nameSchema });
export type InboxUnseenJob = z.infer<typeof inboxUnseenJobSchema>;

/** Job names on the `inbox` queue. */
export const INBOX_JOBS = { unseen: 'unseen', purge: 'purge' } as const;

/** The `inbox` queue, as the API (unseen changes) and routers (the purge schedule) use it. */
export interface InboxQueue {
  /**
   * Asks a router to publish the user's unseen count. Every call is its own job (no id to
   * de-duplicate by): a job that counts before a later change would otherwise stand for it.
   */
  unseenChanged(job: InboxUnseenJob): Promise<void>;
  /** Creates the retention purge's one scheduler, or moves it to a new interval. */
  schedulePurge(everyMs: number): Promise<void>;
  close(): Promise<void>;
}

export function createInboxQueue(settings: QueueSettings): InboxQueue {
  const queue = openQueue(QUEUE_NAMES.inbox, settings);
  const failedKept = { age: 24 * 3600 };
  return {
    async unseenChanged(job) {
      await queue.add(INBOX_JOBS.unseen, job, {
        attempts: 5,
        backoff: { type: 'exponential', delay: 500, jitter: 0.5 },
        removeOnComplete: true,
        removeOnFail: failedKept,
      });
    },
    async schedulePurge(everyMs) {
      await queue.upsertJobScheduler(
        INBOX_PURGE_SCHEDULER_ID,
        { every: everyMs },
        {
          name: INBOX_JOBS.purge,
          data: {},
          opts: {
            attempts: 3,
            backoff: { type: 'exponential', delay: 5_000 },
            removeOnComplete: { count: 10 },
            removeOnFail: failedKept,
          },
        },
      );
    },
    close: () => queue.close(),
  };
}
