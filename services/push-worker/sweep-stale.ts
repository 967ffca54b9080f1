import type { SubscriptionStore } from '../../shared/database/index.js';
import type { Service } from '../../shared/lifecycle/index.js';
import type { Logger } from '../../shared/logging/index.js';

const BATCH = 500;
const DAY_MS = 24 * 3600 * 1000;

/**
 * Deactivates subscriptions past their `expirationTime` or with no successful push for
 * `staleAfterDays`, in batches until none is left. Idempotent, so several workers may sweep.
 */
export async function sweepStaleSubscriptions(
  deps: { subscriptions: SubscriptionStore; log: Logger },
  staleAfterDays: number,
  now: Date,
): Promise<number> {
  const staleBefore = new Date(now.getTime() - staleAfterDays * DAY_MS);
  let total = 0;
  for (;;) {
    const done = await deps.subscriptions.deactivateStale(staleBefore, now, BATCH);
    total += done;
    if (done < BATCH) break;
  }
  if (total > 0) deps.log.info({ deactivated: total, staleAfterDays }, 'stale subscriptions deactivated');
  return total;
}

/** Sweeps at start and then every `intervalMs` (an hour by default) until closed. */
export function startStaleSweep(
  deps: { subscriptions: SubscriptionStore; log: Logger; now?: () => number },
  staleAfterDays: number,
  intervalMs = 3600_000,
): Service {
  const now = deps.now ?? Date.now;
  let running: Promise<unknown> = Promise.resolve();
  const sweep = () => {
    running = sweepStaleSubscriptions(deps, staleAfterDays, new Date(now())).catch((err: unknown) =>
      deps.log.warn({ err }, 'stale sweep failed; will try again'),
    );
  };
  sweep();
  const timer = setInterval(sweep, intervalMs);
  timer.unref();
  return {
    name: 'stale-sweep',
    async close() {
      clearInterval(timer);
      await running;
    },
  };
}
