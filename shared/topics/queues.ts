import { createHash } from 'node:crypto';

/**
 * BullMQ queue names. Renaming one strands the jobs already waiting under the old name, so a
 * rename needs a migration that drains the old queue first.
 */
export const QUEUE_NAMES = {
  /** Accepted events waiting to be routed (HTTP intake and MQTT intake both land here). */
  route: 'route',
  /** One job per (event, user): deliver Web Push to that user's active subscriptions. */
  push: 'push',
  /**
   * One BullMQ job scheduler per subscription with a daily reminder; each firing is one job,
   * which a router turns into a push job for that subscription.
   */
  reminders: 'reminders',
  /**
   * Inbox upkeep for routers: `unseen` jobs (the API changed a user's unseen count; a router
   * publishes it) and the retention purge's scheduler (`INBOX_PURGE_SCHEDULER_ID`).
   */
  inbox: 'inbox',
} as const;

/** The one job scheduler of the inbox's retention purge; every router upserts the same one. */
export const INBOX_PURGE_SCHEDULER_ID = 'inbox-purge';

/** The Redis key prefix of every queue, so one Redis can serve several deployments. */
export const DEFAULT_QUEUE_PREFIX = 'axion';

/**
 * Deterministic job ids make a re-added job a no-op while the first one is retained, which is
 * what keeps an event from being routed or pushed twice. BullMQ reserves `:` in ids, so ids are
 * hashes of their parts.
 */
export function routeJobId(eventId: string): string {
  return `r-${digest(eventId)}`;
}

/** One push job per (event, chunk of users); a chunk of one user is keyed by that user. */
export function pushJobId(eventId: string, users: string | readonly string[]): string {
  const key = typeof users === 'string' ? users : users.join('\n');
  return `p-${digest(`${eventId}\u0000${key}`)}`;
}

/** The job scheduler of one subscription's daily reminder: `:`-free, one per subscription. */
export function reminderSchedulerId(key: {
  user: string;
  package: string;
  endpointHash: string;
}): string {
  return `rem-${digest(`${key.user}\u0000${key.package}\u0000${key.endpointHash}`)}`;
}

/**
 * The event id of one firing of a reminder: the same for every router that takes that firing
 * and for every retry, so its push job (`pushJobId(eventId, user)`) is queued once.
 */
export function reminderEventId(schedulerId: string, firesAt: number): string {
  return `${schedulerId}-${firesAt}`;
}

function digest(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}
