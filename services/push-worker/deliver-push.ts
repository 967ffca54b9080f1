import type {
  DeliverableSubscription,
  SubscriptionStore,
  VapidKey,
} from '../../shared/database/index.js';
import type { PushJob } from '../../shared/events/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { endpointProblem, type EndpointPolicy } from '../../shared/push-endpoints/index.js';
import { encryptMessage, pushRequest } from './prepare-push.js';
import type { VapidAuthorizer } from './vapid-jwt.js';
import type { PushSender } from './web-push-sender.js';

export interface DeliverPushDeps {
  subscriptions: SubscriptionStore;
  /** The key a subscription was made with (or the package's current one). */
  vapidKeyFor(subscription: DeliverableSubscription): Promise<VapidKey>;
  sender: PushSender;
  authorizer: VapidAuthorizer;
  endpointPolicy: EndpointPolicy;
  log: Logger;
  now?: () => number;
}

export type SendOutcome = 'sent' | 'gone' | 'rejected' | 'blocked' | 'retry';

export interface DeliveryReport {
  expired: boolean;
  /** Endpoint hashes with a final outcome: never sent to again for this job. */
  settled: string[];
  /** Endpoint hashes to try again later. */
  retry: string[];
  counts: Record<SendOutcome, number>;
}

/**
 * Delivers one user's Message to each of their active subscriptions that has not already
 * settled in an earlier attempt. A dead subscription (404/410) is an outcome, not an error.
 */
export async function deliverPush(
  deps: DeliverPushDeps,
  job: PushJob,
  alreadySettled: ReadonlySet<string>,
): Promise<DeliveryReport> {
  const now = deps.now ?? Date.now;
  const report: DeliveryReport = {
    expired: false,
    settled: [],
    retry: [],
    counts: { sent: 0, gone: 0, rejected: 0, blocked: 0, retry: 0 },
  };
  // RFC 8030 §5.2: after its TTL a message is worthless; do not send it late.
  if (now() >= job.expiresAt) {
    report.expired = true;
    return report;
  }
  const subscriptions = (await deps.subscriptions.listActive(job.user, job.package)).filter(
    (s) => !alreadySettled.has(s.endpointHash),
  );
  // allSettled: one subscription's failure (its VAPID key cannot be loaded, the database
  // blinks) must not lose the outcomes of the others, or a retry would send to them again.
  const results = await Promise.allSettled(subscriptions.map((s) => sendOne(deps, job, s, now)));
  results.forEach((result, i) => {
    const { endpointHash } = subscriptions[i]!;
    if (result.status === 'rejected') {
      deps.log.error({ err: result.reason, eventId: job.eventId }, 'push failed unexpectedly; will retry');
    }
    const outcome = result.status === 'fulfilled' ? result.value : 'retry';
    report.counts[outcome]++;
    (outcome === 'retry' ? report.retry : report.settled).push(endpointHash);
  });
  return report;
}

async function sendOne(
  deps: DeliverPushDeps,
  job: PushJob,
  subscription: DeliverableSubscription,
  now: () => number,
): Promise<SendOutcome> {
  const key = { user: subscription.user, package: subscription.package, endpointHash: subscription.endpointHash };
  const endpointHost = new URL(subscription.endpoint).host;
  const log = deps.log.child({ eventId: job.eventId, endpointHost, requestId: job.requestId });
  const problem = endpointProblem(subscription.endpoint, deps.endpointPolicy);
  if (problem) {
    log.warn({ problem }, 'endpoint not allowed; not sent');
    return 'blocked';
  }
  let body: Buffer;
  try {
    body = encryptMessage(job, subscription);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    // Keys that cannot encrypt will never work: the browser must subscribe again.
    await deps.subscriptions.deactivate(key, 'invalid-keys');
    log.warn({ err: err.message }, 'subscription keys unusable; deactivated');
    return 'gone';
  }
  // A VAPID key that cannot sign is our problem, not the subscription's: it throws, and the
  // job is retried while an operator fixes the key.
  const vapidKey = await deps.vapidKeyFor(subscription);
  const origin = new URL(subscription.endpoint).origin;
  const authorization = deps.authorizer.authorization(origin, vapidKey);
  const request = pushRequest(job, subscription.endpoint, body, authorization, now());
  let response;
  try {
    response = await deps.sender.send(request);
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'push service unreachable; will retry');
    return 'retry';
  }
  const { status } = response;
  if (status >= 200 && status < 300) {
    await deps.subscriptions.recordSuccess(key, new Date(now()));
    log.info({ status, user: job.user }, 'push sent');
    return 'sent';
  }
  if (status === 404 || status === 410) {
    await deps.subscriptions.deactivate(key, `push-service-${status}`);
    log.info({ status }, 'subscription gone; deactivated');
    return 'gone';
  }
  if (status === 429 || status >= 500) {
    log.warn({ status, body: response.text }, 'push service busy or failing; will retry');
    return 'retry';
  }
  await deps.subscriptions.recordFailure(key);
  const hint = status === 403 ? 'the VAPID key does not match the one the browser subscribed with' : undefined;
  log.warn({ status, body: response.text, hint }, 'push rejected');
  return 'rejected';
}
