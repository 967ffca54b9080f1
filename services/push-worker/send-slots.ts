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
  return {
    async run(work) {
      if (free > 0) free--;
      else await new Promise<void>((resolve) => waiting.push(resolve));
      try {
        return await work();
      } finally {
        // Hand the slot straight to the next in line, or give it back.
        const next = waiting.shift();
        if (next) next();
        else free++;
      }
    },
  };
}
