import {
  hashEndpoint,
  type DeliverableSubscription,
  type SubscriptionKey,
  type SubscriptionStore,
} from '../../shared/database/index.js';
import type { PushSubscriptionRow } from '../../shared/entities/index.js';

export interface FakeSubscriptionInput {
  user: string;
  package: string;
  endpoint: string;
  p256dh: string;
  auth: string;
  vapidKeyId?: number | null;
  active?: boolean;
  expirationTime?: Date | null;
}

/**
 * An in-memory SubscriptionStore for unit tests of the push path. It keeps rows as the real
 * store does (keyed by user, package and endpoint hash) for the calls delivery makes, and
 * throws on the others, which delivery has no business calling.
 */
export class FakeSubscriptionStore implements SubscriptionStore {
  private readonly rows = new Map<string, PushSubscriptionRow>();

  constructor(private readonly clock: () => Date = () => new Date(0)) {}

  /** Arranges a stored subscription; returns its key. */
  add(input: FakeSubscriptionInput): SubscriptionKey {
    const endpointHash = hashEndpoint(input.endpoint);
    const at = this.clock();
    this.rows.set(keyOf({ user: input.user, package: input.package, endpointHash }), {
      user: input.user,
      package: input.package,
      endpointHash,
      endpoint: input.endpoint,
      module: null,
      p256dh: input.p256dh,
      auth: input.auth,
      userAgent: null,
      expirationTime: input.expirationTime ?? null,
      vapidKeyId: input.vapidKeyId ?? null,
      createdAt: at,
      updatedAt: at,
      lastSuccessAt: null,
      failureCount: 0,
      active: input.active === false ? 'N' : 'Y',
      deactivatedReason: input.active === false ? 'test' : null,
    });
    return { user: input.user, package: input.package, endpointHash };
  }

  /** The stored row for an endpoint of a user, for assertions. */
  row(user: string, pkg: string, endpoint: string): PushSubscriptionRow {
    const row = this.rows.get(keyOf({ user, package: pkg, endpointHash: hashEndpoint(endpoint) }));
    if (!row) throw new Error(`no subscription of ${user}/${pkg} for ${endpoint}`);
    return { ...row };
  }

  async listActive(pkg: string, users: readonly string[]): Promise<DeliverableSubscription[]> {
    return [...this.rows.values()]
      .filter((r) => users.includes(r.user) && r.package === pkg && r.active === 'Y')
      .map(({ user, package: p, endpointHash, endpoint, p256dh, auth, vapidKeyId, expirationTime }) => ({
        user,
        package: p,
        endpointHash,
        endpoint,
        p256dh,
        auth,
        vapidKeyId,
        expirationTime,
      }));
  }

  async deactivate(key: SubscriptionKey, reason: string): Promise<boolean> {
    const row = this.rows.get(keyOf(key));
    if (!row) return false;
    if (row.active === 'Y') {
      Object.assign(row, { active: 'N', deactivatedReason: reason, updatedAt: this.clock() });
    }
    return true;
  }

  async recordSuccesses(pkg: string, keys: readonly Omit<SubscriptionKey, 'package'>[], at: Date): Promise<void> {
    for (const key of keys) {
      const row = this.rows.get(keyOf({ ...key, package: pkg }));
      if (row) Object.assign(row, { lastSuccessAt: at, failureCount: 0 });
    }
  }

  async recordFailure(key: SubscriptionKey): Promise<void> {
    const row = this.rows.get(keyOf(key));
    if (row) row.failureCount += 1;
  }

  upsert(): never {
    throw new Error('FakeSubscriptionStore: upsert was not expected');
  }

  upsertMany(): never {
    throw new Error('FakeSubscriptionStore: upsertMany was not expected');
  }

  deactivateStale(): never {
    throw new Error('FakeSubscriptionStore: deactivateStale was not expected');
  }

  countActive(): never {
    throw new Error('FakeSubscriptionStore: countActive was not expected');
  }

  list(): never {
    throw new Error('FakeSubscriptionStore: list was not expected');
  }
}

function keyOf(key: SubscriptionKey): string {
  return `${key.user}\u0000${key.package}\u0000${key.endpointHash}`;
}
