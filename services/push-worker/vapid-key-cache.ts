import type { DeliverableSubscription, VapidKey, VapidKeyStore } from '../../shared/database/index.js';

/**
 * VAPID keys for sending. A key never changes once stored, so keys by id are cached for good;
 * a package's current key (for subscriptions made before keys were tracked) for a minute, so
 * a rotation done by another process is seen soon. This runs once per send: a cached key comes
 * back as it is, not in a promise.
 */
export function createVapidKeyCache(store: VapidKeyStore, now: () => number = Date.now) {
  const byId = new Map<number, VapidKey>();
  const current = new Map<string, { key: VapidKey; until: number }>();
  // Loads under way: a job's first sends all ask for the same key before the first answer is
  // in, and they share one read instead of one each (400 queries for a job of 400 users).
  const loadingById = new Map<number, Promise<VapidKey>>();
  const loadingCurrent = new Map<string, Promise<VapidKey>>();

  function shared<K>(loading: Map<K, Promise<VapidKey>>, key: K, load: () => Promise<VapidKey>): Promise<VapidKey> {
    const under = loading.get(key);
    if (under) return under;
    const started = load().finally(() => loading.delete(key));
    loading.set(key, started);
    return started;
  }
  function currentKey(pkg: string): VapidKey | Promise<VapidKey> {
    const hit = current.get(pkg);
    return hit && hit.until > now() ? hit.key : shared(loadingCurrent, pkg, () => loadCurrent(pkg));
  }
  async function loadCurrent(pkg: string): Promise<VapidKey> {
    const key = await store.current(pkg);
    current.set(pkg, { key, until: now() + 60_000 });
    return key;
  }
  async function loadById(id: number, pkg: string): Promise<VapidKey> {
    const stored = await store.byId(id);
    if (!stored) return currentKey(pkg);
    byId.set(stored.id, stored);
    return stored;
  }

  return function vapidKeyFor(subscription: DeliverableSubscription): VapidKey | Promise<VapidKey> {
    const { vapidKeyId } = subscription;
    if (vapidKeyId === null) return currentKey(subscription.package);
    return byId.get(vapidKeyId) ?? shared(loadingById, vapidKeyId, () => loadById(vapidKeyId, subscription.package));
  };
}
