import { createAnswerCache } from '../../shared/answer-cache/index.js';
import type { DeliverableSubscription, VapidKey, VapidKeyStore } from '../../shared/database/index.js';

/** Keys and packages a worker remembers; one evicted is read again when next asked for. */
const MAX_CACHED = 1_000;
/** A rotation done by another process is seen this soon. */
const CURRENT_KEY_TTL_MS = 60_000;

/**
 * VAPID keys for sending. A key never changes once stored, so keys by id are cached for good;
 * a package's current key (for subscriptions made before keys were tracked) for a minute. This
 * runs once per send: a cached key comes back as it is, not in a promise. A key not yet cached is
 * read once for all the sends asking for it at the same moment (a job's first sends all miss).
 */
export function createVapidKeyCache(store: VapidKeyStore, now: () => number = Date.now) {
  const byId = createAnswerCache<VapidKey | null>({ maxEntries: MAX_CACHED, now });
  const current = createAnswerCache<VapidKey>({ maxEntries: MAX_CACHED, now });

  function currentKey(pkg: string): VapidKey | Promise<VapidKey> {
    return (
      current.peek(pkg) ??
      current.get(pkg, async () => ({ value: await store.current(pkg), ttlMs: CURRENT_KEY_TTL_MS }))
    );
  }
  async function keyById(id: number, pkg: string): Promise<VapidKey> {
    const stored = await byId.get(String(id), async () => {
      const value = await store.byId(id);
      return { value, ttlMs: value ? Number.POSITIVE_INFINITY : 0 };
    });
    // A key id that is not stored: each subscription falls back to its own package's current key.
    return stored ?? currentKey(pkg);
  }

  return function vapidKeyFor(subscription: DeliverableSubscription): VapidKey | Promise<VapidKey> {
    const { vapidKeyId } = subscription;
    if (vapidKeyId === null) return currentKey(subscription.package);
    return byId.peek(String(vapidKeyId)) ?? keyById(vapidKeyId, subscription.package);
  };
}
