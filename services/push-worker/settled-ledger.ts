import type { Redis } from 'ioredis';
import { createGroupCommit } from '../../shared/group-commit/index.js';
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
const KEEP_AFTER_TTL_MS = 3_600_000;
const MAX_REMEMBERED_JOBS = 10_000;
/** A few jobs' worth: one write stays small enough not to hold Redis up. */
const MAX_ENTRIES_PER_WRITE = 2_000;

interface Entry {
  jobId: string;
  endpointHash: string;
  outcome: SettledOutcome;
  keepUntil: number;
}

/**
 * One Redis hash per job, expiring an hour after the event's TTL. Entries go to Redis by group
 * commit: those that settle while a write is under way go together in the next one, one HSET per
 * job, so a slow Redis gets a few larger writes rather than one per turn of the event loop. Each
 * `add` resolves once its entry is written. Use a connection of its own, not BullMQ's.
 */
export function createSettledLedger(redis: Redis, prefix: string): SettledLedger {
  const key = (jobId: string) => `${prefix}:push-settled:${jobId}`;

  // Jobs whose hash already has its expiry, from an earlier write of this process: their
  // later entries need only the HSET (which keeps a key's expiry).
  const expirySet = new Map<string, number>();

  async function commit(entries: Entry[]): Promise<void[]> {
    // One HSET with every field of a job: far cheaper to build, send and parse than a command
    // per endpoint. Most writes carry one job whose expiry is set: one command, no pipeline.
    const byJob = new Map<string, { fields: string[]; keepUntil: number }>();
    for (const entry of entries) {
      const job = byJob.get(entry.jobId);
      if (job) {
        job.fields.push(entry.endpointHash, entry.outcome);
        job.keepUntil = Math.max(job.keepUntil, entry.keepUntil);
      } else {
        byJob.set(entry.jobId, { fields: [entry.endpointHash, entry.outcome], keepUntil: entry.keepUntil });
      }
    }
    await write(byJob);
    return new Array<void>(entries.length);
  }

  async function write(byJob: Map<string, { fields: string[]; keepUntil: number }>): Promise<void> {
    const [only, ...others] = byJob;
    if (only && others.length === 0 && (expirySet.get(only[0]) ?? -1) >= only[1].keepUntil) {
      await redis.hset(key(only[0]), ...only[1].fields);
      return;
    }
    const pipeline = redis.pipeline();
    for (const [jobId, { fields, keepUntil }] of byJob) {
      pipeline.hset(key(jobId), ...fields);
      pipeline.pexpireat(key(jobId), keepUntil + KEEP_AFTER_TTL_MS);
    }
    const results = (await pipeline.exec()) ?? [];
    const error = results.find(([err]) => err)?.[0];
    if (error) throw error;
    if (expirySet.size + byJob.size > MAX_REMEMBERED_JOBS) expirySet.clear();
    for (const [jobId, { keepUntil }] of byJob) {
      expirySet.set(jobId, Math.max(keepUntil, expirySet.get(jobId) ?? 0));
    }
  }

  const add = createGroupCommit(commit, { maxBatch: MAX_ENTRIES_PER_WRITE });

  return {
    async load(jobId) {
      const entries = Object.entries(await redis.hgetall(key(jobId)));
      return new Map(entries.filter(([, o]) => OUTCOMES.has(o)) as [string, SettledOutcome][]);
    },
    add(jobId, endpointHash, outcome, keepUntil) {
      return add({ jobId, endpointHash, outcome, keepUntil });
    },
  };
}
