/**
 * At most `size` sends at once in a worker process, each slot held from the request until its
 * outcome is in the settled ledger. A worker killed at any moment has therefore at most `size`
 * sends whose outcome it did not record: the only ones a resumed job can repeat.
 */
export interface SendSlots {
  run<T>(work: () => Promise<T>): Promise<T>;
}

export function createSendSlots(size: number): SendSlots {
  let free = size;
  const waiting: (() => void)[] = [];
  // Hand the slot straight to the next in line, or give it back.
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else free++;
  };
  // Made once, not per send: every send passes through here.
  const done = <T>(value: T) => {
    release();
    return value;
  };
  const failed = (err: unknown) => {
    release();
    throw err;
  };
  const start = <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return work().then(done, failed);
    } catch (err) {
      release();
      return Promise.reject(err);
    }
  };
  return {
    run(work) {
      if (free > 0) {
        free--;
        return start(work);
      }
      return new Promise<void>((resolve) => waiting.push(resolve)).then(() => start(work));
    },
  };
}
