import type { NotificationStore } from '../../shared/database/index.js';
import type { DeliveryStatus } from '../../shared/delivery-status/index.js';
import { usersOf, type RouteJob } from '../../shared/events/index.js';
import { isSameEvent } from '../../shared/intake/index.js';
import type { Logger } from '../../shared/logging/index.js';
import type { RouteQueue } from '../../shared/queue/index.js';
import type { InboxWriter } from './inbox-writer.js';

/** What became of an event handed to the recorder. */
export type RecordOutcome = 'recorded' | 'conflict';

/** Makes events that the intake has already published durable, many at a time. */
export interface EventRecorder {
  /**
   * Resolves once the event is stored (its row, and its route job when Web Push may follow),
   * or answers `conflict` when its id belongs to another event. Rejects when the database or
   * Redis failed; the caller tries again.
   */
  record(job: RouteJob): Promise<RecordOutcome>;
}

export interface EventRecorderDeps {
  notifications: Pick<NotificationStore, 'recordMany'>;
  routeQueue: Pick<RouteQueue, 'addBulk'>;
  status: Pick<DeliveryStatus, 'setMany'>;
  /** Realtime-only events the intake published are never routed: their inbox items go in here. */
  inbox: Pick<InboxWriter, 'record'>;
  log: Logger;
}

interface Pending {
  job: RouteJob;
  resolve: (outcome: RecordOutcome) => void;
  reject: (err: unknown) => void;
}

/** Events committed together at most; more wait for the next commit. */
export const MAX_EVENTS_PER_COMMIT = 500;
const MAX_COMMITS_AT_ONCE = 4;
/** Events waiting behind a running commit that justify starting another one beside it. */
const BACKLOG = 200;

/**
 * Group commit: events that arrive while a commit runs are stored together by the next one,
 * with one insert, one read-back and one bulk add. The batch grows with the load by itself,
 * so a lone event waits for no timer, and ten thousand a second cost about a hundred commits.
 */
export function createEventRecorder(deps: EventRecorderDeps, maxBatch = MAX_EVENTS_PER_COMMIT): EventRecorder {
  const waiting: Pending[] = [];
  let running = 0;

  async function drain(): Promise<void> {
    while (waiting.length > 0) {
      const batch = waiting.splice(0, maxBatch);
      try {
        const outcomes = await commit(deps, batch.map((entry) => entry.job));
        batch.forEach((entry, i) => entry.resolve(outcomes[i]!));
      } catch (err) {
        for (const entry of batch) entry.reject(err);
      }
    }
    running -= 1;
  }

  return {
    record(job) {
      return new Promise((resolve, reject) => {
        waiting.push({ job, resolve, reject });
        // One commit at a time batches best; a backlog (a slow commit) gets a few more.
        if (running > 0 && (running >= MAX_COMMITS_AT_ONCE || waiting.length < BACKLOG)) return;
        running += 1;
        // Let the events of the packets already read join this commit.
        setImmediate(() => void drain());
      });
    },
  };
}

async function commit(deps: EventRecorderDeps, jobs: RouteJob[]): Promise<RecordOutcome[]> {
  const rows = await deps.notifications.recordMany(jobs);
  const outcomes = jobs.map((job): RecordOutcome => {
    if (rows === 'created') return 'recorded';
    const row = rows.get(job.id);
    // Not stored and not readable under its id: whatever holds the id, it is not this event.
    if (!row || !isSameEvent(row, job)) return 'conflict';
    // A repeat keeps the time it was first accepted at: its TTL runs from then.
    job.acceptedAt = row.createdAt.toISOString();
    return 'recorded';
  });
  const recorded = jobs.filter((_, i) => outcomes[i] === 'recorded');
  // A published realtime-only event is done once in the inbox; anything else is routed (Web
  // Push, or the realtime publish that failed), and routing fills the inbox.
  const done = (job: RouteJob) => job.realtimePublished === true && job.event.delivery === 'realtime';
  const finished = recorded.filter(done);
  await Promise.all([
    deps.routeQueue.addBulk(recorded.filter((job) => !done(job))),
    deps.status.setMany(
      finished.map((job) => job.id),
      { realtime: 1, pushQueued: 0, pushSkippedOnline: 0 },
    ),
    deps.inbox.record(
      finished.flatMap((job) =>
        (usersOf(job.target) ?? []).map((user) => ({ notificationId: job.id, package: job.package, user })),
      ),
    ),
  ]);
  const conflicts = jobs.length - recorded.length;
  if (conflicts > 0) deps.log.debug({ events: jobs.length, conflicts }, 'intake commit');
  return outcomes;
}
