import type { NotificationStore } from '../../shared/database/index.js';
import type { DeliveryStatus } from '../../shared/delivery-status/index.js';
import { usersOf, type RouteJob } from '../../shared/events/index.js';
import { isSameEvent } from '../../shared/intake/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { createGroupCommit } from '../../shared/group-commit/index.js';
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
  inbox: Pick<InboxWriter, 'add' | 'publishUnseen'>;
  log: Logger;
}

/** Events committed together at most; more wait for the next commit. */
export const MAX_EVENTS_PER_COMMIT = 500;

/**
 * Group commit: events that arrive while a commit runs are stored together by the next one,
 * with one insert, one read-back and one bulk add.
 */
export function createEventRecorder(deps: EventRecorderDeps, maxBatch = MAX_EVENTS_PER_COMMIT): EventRecorder {
  return { record: createGroupCommit((jobs: RouteJob[]) => commit(deps, jobs), { maxBatch }) };
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
  const [, , changed] = await Promise.all([
    deps.routeQueue.addBulk(recorded.filter((job) => !done(job))),
    deps.status.setMany(
      finished.map((job) => job.id),
      { realtime: 1, pushQueued: 0, pushSkippedOnline: 0 },
    ),
    deps.inbox.add(
      finished.flatMap((job) =>
        (usersOf(job.target) ?? []).map((user) => ({ notificationId: job.id, package: job.package, user })),
      ),
    ),
  ]);
  // The counts go out beside the acknowledgements, not before them: only the items must be
  // stored first, and a count's read plus its broker round trip held every commit, and the
  // events waiting behind it, for longer than the commit itself (bench:realtime). They are read
  // and sent at the end of the coalescing window (unseen-counts.ts). A count that fails to go
  // out is logged; the user's next change, or GET /v1/inbox, brings the right one.
  for (const [pkg, users] of changed) {
    deps.inbox.publishUnseen(pkg, users).catch((err: unknown) =>
      deps.log.warn({ err: (err as Error).message, package: pkg, users: users.length }, 'unseen counts not published'),
    );
  }
  const conflicts = jobs.length - recorded.length;
  if (conflicts > 0) deps.log.debug({ events: jobs.length, conflicts }, 'intake commit');
  return outcomes;
}
