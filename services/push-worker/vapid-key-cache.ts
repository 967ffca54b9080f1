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
  // Reads under way: a job's first sends all ask for the same key before the first answer is
  // in, and they share one read instead of one each (400 queries for a job of 400 users).
  const readingById = new Map<number, Promise<VapidKey | null>>();
  const readingCurrent = new Map<string, Promise<VapidKey>>();

  function shared<K, V>(reading: Map<K, Promise<V>>, key: K, read: () => Promise<V>): Promise<V> {
    const under = reading.get(key);
    if (under) return under;
    const started = read().finally(() => reading.delete(key));
    reading.set(key, started);
    return started;
  }
  function currentKey(pkg: string): VapidKey | Promise<VapidKey> {
    const hit = current.get(pkg);
    return hit && hit.until > now() ? hit.key : shared(readingCurrent, pkg, () => readCurrent(pkg));
  }
  async function readCurrent(pkg: string): Promise<VapidKey> {
    const key = await store.current(pkg);
    current.set(pkg, { key, until: now() + 60_000 });
    return key;
  }
  function storedKey(id: number): Promise<VapidKey | null> {
    return shared(readingById, id, async () => {
      const stored = await store.byId(id);
      if (stored) byId.set(stored.id, stored);
      return stored;
    });
  }
  async function keyById(id: number, pkg: string): Promise<VapidKey> {
    // A key id that is not stored: each subscription falls back to its own package's current key.
    return (await storedKey(id)) ?? currentKey(pkg);
  }

  return function vapidKeyFor(subscription: DeliverableSubscription): VapidKey | Promise<VapidKey> {
    const { vapidKeyId } = subscription;
    if (vapidKeyId === null) return currentKey(subscription.package);
    return byId.get(vapidKeyId) ?? keyById(vapidKeyId, subscription.package);
  };
}
