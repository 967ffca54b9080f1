import { createSubscriptionStore, type SubscriptionStore } from '../shared/database/index.js';
import { loadCliConfig, withDatabase } from './open-system.js';

const PRUNE_BATCH = 500;
const DAY_MS = 24 * 3600 * 1000;

/**
 * `subscriptions prune`: what the push-worker's hourly sweep does, at once: deactivates
 * subscriptions past their expirationTime or without a successful push for `days` (default
 * `PUSH_STALE_AFTER_DAYS`); prints how many.
 */
export async function pruneSubscriptions(days: number | undefined): Promise<void> {
  const config = loadCliConfig();
  const staleDays = days ?? config.push.staleAfterDays;
  await withDatabase(config, async (dataSource) => {
    const count = await deactivateAllStale(createSubscriptionStore(dataSource), staleDays, new Date());
    console.log(`deactivated ${count} stale subscription${count === 1 ? '' : 's'} (none successful for ${staleDays} days, or expired)`);
  });
}

/** The store's batched `deactivateStale`, called until no stale subscription is left. */
async function deactivateAllStale(store: SubscriptionStore, days: number, now: Date): Promise<number> {
  const staleBefore = new Date(now.getTime() - days * DAY_MS);
  let total = 0;
  let done: number;
  do {
    done = await store.deactivateStale(staleBefore, now, PRUNE_BATCH);
    total += done;
  } while (done === PRUNE_BATCH);
  return total;
}
