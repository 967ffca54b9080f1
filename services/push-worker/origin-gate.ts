/**
 * Holds back sends to a push service that asked us to slow down (429/503) or stopped
 * answering, without slowing the others: the pause is per origin. It lives in the worker process; another worker learns
 * the same from its own first refused request.
 */
export interface OriginGate {
  /** Milliseconds until `origin` may be sent to again; 0 when it is open. */
  waitFor(origin: string): number;
  pause(origin: string, ms: number): void;
}

/** How long to hold back an origin that said 429/503 without a Retry-After. */
export const DEFAULT_ORIGIN_PAUSE_MS = 5_000;
/**
 * How long to hold back an origin after a send got no answer at all (deadline, reset): long
 * enough that the sends queued behind it do not each wait out the deadline, short enough that
 * a single dropped connection costs little.
 */
export const UNANSWERED_ORIGIN_PAUSE_MS = 2_000;
const MAX_PAUSE_MS = 60 * 60_000;

export function createOriginGate(now: () => number = Date.now): OriginGate {
  const pausedUntil = new Map<string, number>();
  return {
    waitFor(origin) {
      const until = pausedUntil.get(origin);
      if (until === undefined) return 0;
      const left = until - now();
      if (left > 0) return left;
      pausedUntil.delete(origin);
      return 0;
    },
    pause(origin, ms) {
      const until = now() + Math.min(Math.max(ms, 0), MAX_PAUSE_MS);
      pausedUntil.set(origin, Math.max(until, pausedUntil.get(origin) ?? 0));
    },
  };
}
