import type { Redis } from 'ioredis';

/**
 * Which endpoints have settled (accepted, gone, refused) for a push job, written as each one
 * settles. A job picked up again after a retry, or after its worker was killed, skips them: a
 * crash can repeat only the sends that were in flight.
 */
export interface SettledLedger {
  load(jobId: string): Promise<Set<string>>;
  add(jobId: string, endpointHash: string, keepUntil: number): Promise<void>;
}

/** One Redis set per job, expiring an hour after the event's TTL. */
export function createSettledLedger(redis: Redis, prefix: string): SettledLedger {
  const key = (jobId: string) => `${prefix}:push-settled:${jobId}`;
  return {
    async load(jobId) {
      return new Set(await redis.smembers(key(jobId)));
    },
    async add(jobId, endpointHash, keepUntil) {
      await redis
        .multi()
        .sadd(key(jobId), endpointHash)
        .pexpireat(key(jobId), keepUntil + 3_600_000)
        .exec();
    },
  };
}
