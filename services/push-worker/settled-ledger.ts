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

interface PendingEntry {
  jobId: string;
  endpointHash: string;
  outcome: SettledOutcome;
  keepUntil: number;
  done: () => void;
  failed: (err: unknown) => void;
}

/**
 * One Redis hash per job, expiring an hour after the event's TTL. Entries that settle in the
 * same turn of the event loop go to Redis in one pipeline; each `add` resolves once its entry
 * is written. Use a connection of its own, not BullMQ's.
 */
export function createSettledLedger(redis: Redis, prefix: string): SettledLedger {
  const key = (jobId: string) => `${prefix}:push-settled:${jobId}`;
  let pending: PendingEntry[] = [];

  async function flush(): Promise<void> {
    const batch = pending;
    pending = [];
    const pipeline = redis.pipeline();
    const expiries = new Map<string, number>();
    for (const entry of batch) {
      pipeline.hset(key(entry.jobId), entry.endpointHash, entry.outcome);
      expiries.set(entry.jobId, Math.max(expiries.get(entry.jobId) ?? 0, entry.keepUntil));
    }
    for (const [jobId, keepUntil] of expiries) pipeline.pexpireat(key(jobId), keepUntil + 3_600_000);
    try {
      const results = (await pipeline.exec()) ?? [];
      const error = results.find(([err]) => err)?.[0];
      if (error) throw error;
      for (const entry of batch) entry.done();
    } catch (err) {
      for (const entry of batch) entry.failed(err);
    }
  }

  return {
    async load(jobId) {
      const entries = Object.entries(await redis.hgetall(key(jobId)));
      return new Map(entries.filter(([, o]) => OUTCOMES.has(o)) as [string, SettledOutcome][]);
    },
    add(jobId, endpointHash, outcome, keepUntil) {
      return new Promise<void>((done, failed) => {
        if (pending.length === 0) setImmediate(() => void flush());
        pending.push({ jobId, endpointHash, outcome, keepUntil, done, failed });
      });
    },
  };
}
