import type { SubscriptionStore, VapidKeyStore } from '../../shared/database/index.js';
import { NotFoundError, UnavailableError, ValidationError } from '../../shared/errors/index.js';
import type { SubscriptionRequest, UnsubscribeRequest } from '../../shared/events/index.js';
import { endpointProblem, type EndpointPolicy } from '../../shared/push-endpoints/index.js';
import { hashEndpoint } from '../../shared/database/index.js';
import { assertPackageAccess, type UserCaller } from '../../shared/auth/index.js';
import type { DailyReminder, ReminderSchedules } from '../../shared/queue/index.js';

export interface SubscriptionDeps {
  subscriptions: SubscriptionStore;
  vapidKeys: VapidKeyStore;
  endpointPolicy: EndpointPolicy;
  /**
   * The daily reminders' job schedulers. `startSubscriptionApi` always passes them; without
   * them (an app built for tests that do not need reminders) a `notifyTime` is refused with 503.
   */
  reminders?: Pick<ReminderSchedules, 'upsert' | 'remove'>;
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
  const reminder = reminderIn(input);
  if (reminder && !deps.reminders) {
    throw new UnavailableError('daily reminders are not available on this server');
  }
  const { endpointHash, created, reminder: stored, total } = await deps.subscriptions.upsert({
    user: caller.user,
    package: input.package,
    endpoint: input.endpoint,
    p256dh: input.keys.p256dh,
    auth: input.keys.auth,
    module: input.module ?? null,
    userAgent: userAgent?.slice(0, 512) ?? null,
    expirationTime: input.expirationTime == null ? null : new Date(input.expirationTime),
    vapidKeyId: key.id,
    reminder,
  });
  // After the row: a firing reads the row, and one that finds no reminder there removes its
  // scheduler. A re-registration without reminder fields keeps the stored one (and puts its
  // scheduler back, should a dead subscription's firing have removed it); `notifyTime: null`
  // removes it. Without a reminder stored or asked for there is nothing to remove: a scheduler
  // left over from a failed removal finds no reminder in the row when it fires and removes
  // itself.
  const subscription = { user: caller.user, package: input.package, endpointHash };
  if (stored && deps.reminders) {
    await deps.reminders.upsert({ ...subscription, utcHour: stored.utcHour, minute: stored.minute });
  } else if (reminder === null) {
    await deps.reminders?.remove(subscription);
  }
  return { id: endpointHash, total, created };
}

/** Soft-deletes the caller's subscription; the row stays, marked inactive. */
export async function unregisterSubscription(
  deps: Pick<SubscriptionDeps, 'subscriptions' | 'reminders'>,
  caller: UserCaller,
  input: UnsubscribeRequest,
): Promise<void> {
  assertPackageAccess(caller, input.package);
  const key = { user: caller.user, package: input.package, endpointHash: hashEndpoint(input.endpoint) };
  const found = await deps.subscriptions.deactivate(key, 'unsubscribed');
  if (!found) throw new NotFoundError('no such subscription');
  await deps.reminders?.remove(key);
}

/**
 * The reminder a request asks for: undefined keeps the stored one, null removes it. The schema
 * already refused a type or message without a time.
 */
function reminderIn(input: SubscriptionRequest): DailyReminder | null | undefined {
  if (input.notifyTime === undefined) return undefined;
  if (!input.notifyTime || !input.notifyType) return null;
  return { ...input.notifyTime, type: input.notifyType, message: input.message ?? null };
}
