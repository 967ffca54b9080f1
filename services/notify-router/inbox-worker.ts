import { UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { InboxStore } from '../../shared/database/index.js';
import type { Service } from '../../shared/lifecycle/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { countJobOutcomes, type MetricsRegistry } from '../../shared/metrics/index.js';
import { createInboxQueue, INBOX_JOBS, inboxUnseenJobSchema } from '../../shared/queue/index.js';
import { QUEUE_NAMES } from '../../shared/topics/index.js';
import type { InboxWriter } from './inbox-writer.js';
import { purgeInbox } from './purge-inbox.js';
import { purgeNotifications, type PurgeNotificationsDeps } from './purge-notifications.js';

/** How often the retention purge runs unless a test asks otherwise. */
export const INBOX_PURGE_EVERY_MS = 3600_000;

export interface InboxWorkerDeps {
  /** The worker's connection (BullMQ blocks on a duplicate of it). */
  connection: Redis;
  /** Where the purge's scheduler is upserted. */
  producer: Redis;
  prefix: string;
  inbox: Pick<InboxStore, 'purgeSeen'>;
  writer: Pick<InboxWriter, 'publishUnseen'>;
  /** `INBOX_SEEN_RETENTION_DAYS`. */
  seenRetentionDays: number;
  /**
   * What the notification retention reads and checks; `days` is `NOTIFICATION_RETENTION_DAYS`
   * (0: notifications are kept).
   */
  notificationRetention: Omit<PurgeNotificationsDeps, 'log'> & { days: number };
  purgeEveryMs?: number;
  log: Logger;
  /** Where job outcomes are counted. */
  metrics?: MetricsRegistry | undefined;
}

/**
 * Starts a worker of the `inbox` queue and makes sure the purge's job scheduler exists (every
 * router upserts the same one; BullMQ hands each firing to one worker). `unseen` jobs come from
 * the API after a user marked items seen: the router, the only publisher on push topics,
 * publishes the new count. `purge` firings delete seen items past their retention, then the
 * notifications past theirs (the inbox purge first: it frees notifications of seen items).
 */
export async function startInboxWorker(deps: InboxWorkerDeps): Promise<Service> {
  const { log } = deps;
  const schedule = createInboxQueue({ connection: deps.producer, prefix: deps.prefix, log });
  try {
    await schedule.schedulePurge(deps.purgeEveryMs ?? INBOX_PURGE_EVERY_MS);
  } finally {
    await schedule.close();
  }
  const worker = new Worker(
    QUEUE_NAMES.inbox,
    async (job) => {
      if (job.name === INBOX_JOBS.purge) {
        const now = new Date();
        const items = await purgeInbox({ inbox: deps.inbox, log }, deps.seenRetentionDays, now);
        const { days, ...retention } = deps.notificationRetention;
        const notifications = await purgeNotifications({ ...retention, log }, days, now);
        return { items, notifications };
      }
      const parsed = inboxUnseenJobSchema.safeParse(job.data);
      if (job.name !== INBOX_JOBS.unseen || !parsed.success) {
        throw new UnrecoverableError(`malformed inbox job ${job.name}`);
      }
      // Ends the window at once: the job waits for the count, and a user who marked items seen
      // expects the badge to drop now.
      await deps.writer.publishUnseen(parsed.data.package, [parsed.data.user], { now: true });
      return 'published';
    },
    { connection: deps.connection, prefix: deps.prefix, concurrency: 4 },
  );
  worker.on('error', (err) => log.warn({ err: err.message }, 'inbox worker error'));
  if (deps.metrics) countJobOutcomes(deps.metrics, worker);
  worker.on('failed', (job, err) =>
    log.warn({ jobId: job?.id, name: job?.name, attempts: job?.attemptsMade, err: err.message }, 'inbox job failed'),
  );
  return { name: 'inbox-worker', close: () => worker.close() };
}
