import type { SubscriptionStore, VapidKeyStore } from '../../shared/database/index.js';
import { NotFoundError, ValidationError } from '../../shared/errors/index.js';
import type { SubscriptionRequest, UnsubscribeRequest } from '../../shared/events/index.js';
import { endpointProblem, type EndpointPolicy } from '../../shared/push-endpoints/index.js';
import { hashEndpoint } from '../../shared/database/index.js';
import { assertPackageAccess, type UserCaller } from '../../shared/auth/index.js';

export interface SubscriptionDeps {
  subscriptions: SubscriptionStore;
  vapidKeys: VapidKeyStore;
  endpointPolicy: EndpointPolicy;
}

/**
 * Stores a browser's subscription for the caller. Subscribing the same endpoint again updates
 * the row (new keys, user agent) and reactivates it instead of adding a second one.
 */
export async function registerSubscription(
  deps: SubscriptionDeps,
  caller: UserCaller,
  input: SubscriptionRequest,
  userAgent: string | undefined,
): Promise<{ id: string; total: number; created: boolean }> {
  assertPackageAccess(caller, input.package);
  const problem = endpointProblem(input.endpoint, deps.endpointPolicy);
  if (problem) throw new ValidationError(`invalid subscription: endpoint: ${problem}`);
  // Pushes to this subscription must be signed with the key the browser subscribed with, even
  // after a rotation: the one it names, else the current one (what GET /v1/vapid served).
  const key = input.applicationServerKey
    ? await deps.vapidKeys.byPublicKey(input.package, input.applicationServerKey)
    : await deps.vapidKeys.current(input.package);
  if (!key) {
    throw new ValidationError(`invalid subscription: applicationServerKey: not a VAPID key of ${input.package}`);
  }
  const { endpointHash, created } = await deps.subscriptions.upsert({
    user: caller.user,
    package: input.package,
    endpoint: input.endpoint,
    p256dh: input.keys.p256dh,
    auth: input.keys.auth,
    module: input.module ?? null,
    userAgent: userAgent?.slice(0, 512) ?? null,
    expirationTime: input.expirationTime == null ? null : new Date(input.expirationTime),
    vapidKeyId: key.id,
  });
  const total = await deps.subscriptions.countActive(caller.user, input.package);
  return { id: endpointHash, total, created };
}

/** Soft-deletes the caller's subscription; the row stays, marked inactive. */
export async function unregisterSubscription(
  deps: Pick<SubscriptionDeps, 'subscriptions'>,
  caller: UserCaller,
  input: UnsubscribeRequest,
): Promise<void> {
  assertPackageAccess(caller, input.package);
  const key = { user: caller.user, package: input.package, endpointHash: hashEndpoint(input.endpoint) };
  const found = await deps.subscriptions.deactivate(key, 'unsubscribed');
  if (!found) throw new NotFoundError('no such subscription');
}
