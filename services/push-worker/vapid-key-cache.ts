import type { DeliverableSubscription, VapidKey, VapidKeyStore } from '../../shared/database/index.js';

/**
 * VAPID keys for sending. A key never changes once stored, so keys by id are cached for good;
 * a package's current key (for subscriptions made before keys were tracked) for a minute, so
 * a rotation done by another process is seen soon.
 */
export function createVapidKeyCache(store: VapidKeyStore, now: () => number = Date.now) {
  const byId = new Map<number, VapidKey>();
  const current = new Map<string, { key: VapidKey; until: number }>();
  return async function vapidKeyFor(subscription: DeliverableSubscription): Promise<VapidKey> {
    if (subscription.vapidKeyId !== null) {
      const cached = byId.get(subscription.vapidKeyId);
      if (cached) return cached;
      const stored = await store.byId(subscription.vapidKeyId);
      if (stored) {
        byId.set(stored.id, stored);
        return stored;
      }
    }
    const hit = current.get(subscription.package);
    if (hit && hit.until > now()) return hit.key;
    const key = await store.current(subscription.package);
    current.set(subscription.package, { key, until: now() + 60_000 });
    return key;
  };
}
