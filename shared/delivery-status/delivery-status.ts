import type { Redis } from 'ioredis';

/** What happened to an event so far, summed over its users and their subscriptions. */
export interface DeliveryCounts {
  /** Messages published to users' push topics. */
  realtime: number;
  /** Users queued for Web Push. */
  pushQueued: number;
  /** Users not queued because `delivery: offline` found them online. */
  pushSkippedOnline: number;
  /** Users whose push job finished (delivered, expired or failed for good). */
  pushDone: number;
  /** Subscriptions that accepted the message. */
  sent: number;
  /** Subscriptions that refused it for good, or were still failing after the last attempt. */
  failed: number;
  /** Subscriptions not reached before the event's TTL ran out. */
  expired: number;
  /** Subscriptions found dead and deactivated. */
  cleaned: number;
}

export const EMPTY_COUNTS: DeliveryCounts = {
  realtime: 0, pushQueued: 0, pushSkippedOnline: 0, pushDone: 0, sent: 0, failed: 0, expired: 0, cleaned: 0,
};

/** Users whose push job has not finished yet: queued for Web Push, not yet done. */
export function pendingPushes(counts: Pick<DeliveryCounts, 'pushQueued' | 'pushDone'>): number {
  return Math.max(0, counts.pushQueued - counts.pushDone);
}

/** Counters per event, shared by router and workers. */
export interface DeliveryStatus {
  /** Adds to counters (worker outcomes: each settles once). */
  add(eventId: string, counts: Partial<DeliveryCounts>): Promise<void>;
  /** Sets counters (routing totals: a retried route sets the same values again). */
  set(eventId: string, counts: Partial<DeliveryCounts>): Promise<void>;
  /** `set` of the same counts for many events, in one command. */
  setMany(eventIds: readonly string[], counts: Partial<DeliveryCounts>): Promise<void>;
  get(eventId: string): Promise<DeliveryCounts>;
  /** Of these events, those with pushes still pending (`pendingPushes`), in one round trip. */
  withPendingPushes(eventIds: readonly string[]): Promise<Set<string>>;
}

const SET_MANY = `for _, key in ipairs(KEYS) do
  redis.call('HSET', key, unpack(ARGV, 2))
  redis.call('EXPIRE', key, ARGV[1])
end`;

/** Kept a week: long enough to answer "what happened to my notification?". */
const RETENTION_SECONDS = 7 * 24 * 3600;

/** A Redis hash per event: HINCRBY is atomic across processes and cheap on the send path. */
export function createDeliveryStatus(redis: Redis, prefix: string): DeliveryStatus {
  const key = (eventId: string) => `${prefix}:delivery:${eventId}`;
  return {
    async add(eventId, counts) {
      const entries = Object.entries(counts).filter(([, n]) => n !== undefined && n !== 0);
      if (entries.length === 0) return;
      const tx = redis.multi();
      for (const [field, n] of entries) tx.hincrby(key(eventId), field, n as number);
      await tx.expire(key(eventId), RETENTION_SECONDS).exec();
    },
    async set(eventId, counts) {
      const entries = Object.entries(counts).filter(([, n]) => n !== undefined);
      if (entries.length === 0) return;
      await redis
        .multi()
        .hset(key(eventId), Object.fromEntries(entries))
        .expire(key(eventId), RETENTION_SECONDS)
        .exec();
    },
    async setMany(eventIds, counts) {
      const fields = Object.entries(counts).filter(([, n]) => n !== undefined).flat();
      if (eventIds.length === 0 || fields.length === 0) return;
      // One script call instead of two commands per event: the intake sets thousands a second.
      await redis.eval(SET_MANY, eventIds.length, ...eventIds.map(key), RETENTION_SECONDS, ...(fields as (string | number)[]));
    },
    async get(eventId) {
      const raw = await redis.hgetall(key(eventId));
      const counts = { ...EMPTY_COUNTS };
      for (const field of Object.keys(counts) as (keyof DeliveryCounts)[]) {
        counts[field] = Number(raw[field] ?? 0);
      }
      return counts;
    },
    async withPendingPushes(eventIds) {
      const pipeline = redis.pipeline();
      for (const id of eventIds) pipeline.hmget(key(id), 'pushQueued', 'pushDone');
      const answers = (await pipeline.exec()) ?? [];
      const pending = new Set<string>();
      answers.forEach(([err, fields], i) => {
        if (err) throw err;
        const [queued, done] = (fields as (string | null)[]).map(Number);
        if (pendingPushes({ pushQueued: queued!, pushDone: done! }) > 0) pending.add(eventIds[i]!);
      });
      return pending;
    },
  };
}
