/**
 * At most `size` sends at once per push service (origin) in a worker process, each slot held
 * from the request until its outcome is in the settled ledger. A worker killed at any moment
 * has therefore at most `size` sends per origin whose outcome it did not record: the only ones
 * a resumed job can repeat (at most once per endpoint). Slots are per origin so that a push
 * service that answers slowly or not at all holds only its own: the others' sends go on.
 */
export interface SendSlots {
  /**
   * Runs `work` in one of `origin`'s slots, after the work that was waiting for them before it;
   * `waited` tells it whether it had to wait (what it checked before may have changed).
   */
  run<T>(origin: string, work: (waited: boolean) => Promise<T>): Promise<T>;
}

interface Lane {
  free: number;
  waiting: (() => void)[];
  done<T>(value: T): T;
  failed(err: unknown): never;
}

export function createSendSlots(size: number): SendSlots {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`send slots must be a positive integer, got ${size}`);
  const lanes = new Map<string, Lane>();
  // Made once per origin in use, not per send: every send passes through here.
  const openLane = (origin: string): Lane => {
    const release = () => {
      const next = lane.waiting.shift();
      if (next) next();
      else if (++lane.free === size) lanes.delete(origin);
    };
    const lane: Lane = {
      free: size,
      waiting: [],
      done: (value) => {
        release();
        return value;
      },
      failed: (err) => {
        release();
        throw err;
      },
    };
    lanes.set(origin, lane);
    return lane;
  };
  const start = <T>(lane: Lane, work: (waited: boolean) => Promise<T>, waited: boolean): Promise<T> => {
    try {
      return work(waited).then(lane.done, lane.failed);
    } catch (err) {
      return Promise.reject(err).catch(lane.failed);
    }
  };
  return {
    run(origin, work) {
      const lane = lanes.get(origin) ?? openLane(origin);
      if (lane.free > 0) {
        lane.free--;
        return start(lane, work, false);
      }
      return new Promise<void>((resolve) => lane.waiting.push(resolve)).then(() => start(lane, work, true));
    },
  };
}
