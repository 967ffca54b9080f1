import type { Redis } from 'ioredis';
import type { SettledOutcome } from './deliver-push.js';

/**
 * Which endpoints have settled for a push job, and how, written as each one settles. A job
 * picked up again after a retry, or after its worker was killed, skips them and still counts
 * their outcomes: a crash can repeat only the sends that were in flight.
 */
export interface SettledLedger {
  load(jobId: string): Promise<Map<string, SettledOutcome>>;
  add(jobId: string, endpointHash: string, outcome: SettledOutcome, keepUntil: number): Promise<void>;
}

const OUTCOMES = new Set<string>(['sent', 'gone', 'rejected', 'blocked']);

/** One Redis hash per job, expiring an hour after the event's TTL. */
export function createSettledLedger(redis: Redis, prefix: string): SettledLedger {
  const key = (jobId: string) => `${prefix}:push-settled:${jobId}`;
  return {
    async load(jobId) {
      const entries = Object.entries(await redis.hgetall(key(jobId)));
      return new Map(entries.filter(([, o]) => OUTCOMES.has(o)) as [string, SettledOutcome][]);
    },
    async add(jobId, endpointHash, outcome, keepUntil) {
      await redis
        .multi()
        .hset(key(jobId), endpointHash, outcome)
        .pexpireat(key(jobId), keepUntil + 3_600_000)
        .exec();
    },
  };
}
