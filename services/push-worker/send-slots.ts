/**
 * At most `size` sends at once per push service (origin) in a worker process, each slot held
 * from the request until its outcome is in the settled ledger. A worker killed at any moment
 * has therefore at most `size` sends per origin whose outcome it did not record: the only ones
 * a resumed job can repeat (at most once per endpoint). Slots are per origin so that a push
 * service that answers slowly or not at all holds only its own: the others' sends go on.
 */
export interface SendSlots {
  /** Runs `work` in one of `origin`'s slots, after the work that was waiting for them before it. */
  run<T>(origin: string, work: () => Promise<T>): Promise<T>;
}

interface Lane {
  free: number;
  waiting: (() => void)[];
  done<T>(value: T): T;
  failed(err: unknown): never;
}

export function createSendSlots(size: number): SendSlots {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`send slots must be a positive integer, got ${size}`);
  // A lane per origin, kept once made: there are few push services, and every send passes
  // through here, so nothing is allocated per send.
  const lanes = new Map<string, Lane>();
  const laneOf = (origin: string): Lane => {
    const found = lanes.get(origin);
    if (found) return found;
    const release = () => {
      const next = lane.waiting.shift();
      if (next) next();
      else lane.free++;
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
  const start = <T>(lane: Lane, work: () => Promise<T>): Promise<T> => {
    let running: Promise<T>;
    try {
      running = work();
    } catch (err) {
      running = Promise.reject(err);
    }
    return running.then(lane.done, lane.failed);
  };
  return {
    run(origin, work) {
      const lane = laneOf(origin);
      if (lane.free > 0) {
        lane.free--;
        return start(lane, work);
      }
      return new Promise<void>((resolve) => lane.waiting.push(resolve)).then(() => start(lane, work));
    },
  };
}
