import { UnrecoverableError } from 'bullmq';

/**
 * When to try a push again. RFC 9110 §10.2.3: Retry-After is either delay-seconds or an
 * HTTP-date; RFC 8030 §8.4 has push services send it with 429 and 503.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | null {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return null;
  const trimmed = raw.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // An HTTP-date names its day and month; without letters Date.parse reads "-5" as a year.
  if (!/[A-Za-z]{3}/.test(trimmed)) return null;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now);
}

export interface RetryDelayInput {
  /** Attempts made so far, counting the one that just failed (1 after the first). */
  attemptsMade: number;
  /** What the push services asked for, if anything: never retry sooner. */
  retryAfterMs: number | null;
  baseMs?: number;
  capMs?: number;
  /** [0, 1): injectable for tests. */
  random?: () => number;
}

/**
 * Exponential backoff with "equal jitter": half the window fixed, half random, so retries of
 * many jobs spread out without any of them coming back almost at once. Never sooner than a
 * Retry-After.
 */
export function retryDelay(input: RetryDelayInput): number {
  const { baseMs = 1_000, capMs = 10 * 60_000, random = Math.random } = input;
  const window = Math.min(capMs, baseMs * 2 ** Math.max(0, input.attemptsMade - 1));
  const backoff = Math.round(window / 2 + random() * (window / 2));
  return Math.max(backoff, input.retryAfterMs ?? 0);
}

/**
 * BullMQ's delay before the next attempt of a push job: what the processor asked for (a
 * RetryLaterError), else — the database or Redis failed under the attempt — the same
 * exponential backoff, so that a job's attempts outlast an outage of a few seconds instead of
 * being used up one second apart.
 */
export function attemptDelay(attemptsMade: number, err: unknown, random?: () => number): number {
  return err instanceof RetryLaterError ? err.delayMs : retryDelay({ attemptsMade, retryAfterMs: null, random });
}

/** A push job attempt that left endpoints to retry; BullMQ's backoff takes `delayMs` from it. */
export class RetryLaterError extends Error {
  constructor(
    readonly delayMs: number,
    readonly endpoints: number,
  ) {
    super(`${endpoints} endpoint(s) to retry in ${delayMs} ms`);
    this.name = 'RetryLaterError';
  }
}

/** The last allowed attempt left endpoints unreached: the job fails for good. */
export class GaveUpError extends UnrecoverableError {
  constructor(
    readonly endpoints: number,
    attempts: number,
  ) {
    super(`gave up after ${attempts} attempts: ${endpoints} endpoint(s) still failing`);
    this.name = 'GaveUpError';
  }
}
