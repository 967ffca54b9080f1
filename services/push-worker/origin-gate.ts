/**
 * Holds back sends to a push service that asked us to slow down (429/503) or stopped
 * answering, without slowing the others: the pause is per origin. It lives in the worker
 * process; another worker learns the same from its own first refused request.
 */
export interface OriginGate {
  /**
   * Milliseconds until `origin` may be sent to again; 0 when this send may go. For an origin
   * that stopped answering, once its pause is over one send gets 0 (the probe) and the others
   * keep waiting until that probe is answered.
   */
  waitFor(origin: string): number;
  /**
   * `waitFor` without taking the probe: whether a send need not even queue for a slot. The
   * send asks `waitFor` once it has its slot.
   */
  heldFor(origin: string): number;
  /** The push service asked us to wait (429/503): every send waits until then. */
  pause(origin: string, ms: number): void;
  /** A send got no answer (deadline, reset, refused): hold back, then probe with one send. */
  suspect(origin: string): void;
  /** A send got an answer: an origin that had stopped answering is open again. */
  answered(origin: string): void;
}

/** How long to hold back an origin that said 429/503 without a Retry-After. */
export const DEFAULT_ORIGIN_PAUSE_MS = 5_000;
/**
 * How long to hold back an origin after a send got no answer at all, and then how soon the
 * sends held back by its probe are tried again: long enough that sends do not each wait out the
 * deadline in the origin's slots (and hold their jobs), short enough that a single dropped
 * connection costs little.
 */
export const UNANSWERED_ORIGIN_PAUSE_MS = 2_000;
/** A probe that never reports (its job died) lets another one go after this. */
const PROBE_WINDOW_MS = 10_000;
const MAX_PAUSE_MS = 60 * 60_000;

interface Hold {
  until: number;
  /** Stopped answering: after `until`, one send probes before the others follow. */
  suspected: boolean;
  probing: boolean;
}

export function createOriginGate(now: () => number = Date.now): OriginGate {
  const holds = new Map<string, Hold>();
  const heldFor = (origin: string): number => {
    const hold = holds.get(origin);
    if (hold === undefined) return 0;
    const left = hold.until - now();
    if (left <= 0) return 0;
    return hold.probing ? Math.min(left, UNANSWERED_ORIGIN_PAUSE_MS) : left;
  };
  return {
    heldFor,
    waitFor(origin) {
      const held = heldFor(origin);
      if (held > 0) return held;
      const hold = holds.get(origin);
      if (hold === undefined) return 0;
      if (!hold.suspected) {
        holds.delete(origin);
        return 0;
      }
      // This send is the probe; the others wait for its answer.
      holds.set(origin, { until: now() + PROBE_WINDOW_MS, suspected: true, probing: true });
      return 0;
    },
    pause(origin, ms) {
      const until = now() + Math.min(Math.max(ms, 0), MAX_PAUSE_MS);
      const hold = holds.get(origin);
      holds.set(origin, {
        until: Math.max(until, hold && !hold.probing ? hold.until : 0),
        suspected: hold?.suspected ?? false,
        probing: false,
      });
    },
    suspect(origin) {
      // A longer pause the service asked for (429/503) stands.
      const hold = holds.get(origin);
      const asked = hold && !hold.probing ? hold.until : 0;
      holds.set(origin, { until: Math.max(now() + UNANSWERED_ORIGIN_PAUSE_MS, asked), suspected: true, probing: false });
    },
    answered(origin) {
      if (holds.get(origin)?.suspected) holds.delete(origin);
    },
  };
}
