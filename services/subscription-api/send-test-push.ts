import { randomUUID } from 'node:crypto';
import { hashEndpoint, type SubscriptionStore } from '../../shared/database/index.js';
import type { DeliveryCounts, DeliveryStatus } from '../../shared/delivery-status/index.js';
import { NotFoundError } from '../../shared/errors/index.js';
import { buildMessage, type PushJob } from '../../shared/events/index.js';
import type { Logger } from '../../shared/logging/index.js';
import type { RouteQueue } from '../../shared/queue/index.js';
import { assertPackageAccess, type UserCaller } from '../../shared/auth/index.js';

export interface SendTestPushDeps {
  subscriptions: Pick<SubscriptionStore, 'listActive' | 'list'>;
  routeQueue: Pick<RouteQueue, 'addPush'>;
  status: Pick<DeliveryStatus, 'get'>;
  log: Logger;
  /** How long to wait for a push-worker's outcome (default `TEST_PUSH_WAIT_MS`). */
  waitMs?: number;
  /** Between two looks at the outcome. */
  pollMs?: number;
}

/**
 * `sent`: the push service accepted it. `gone`: the push service said the subscription is dead
 * (404/410), or it expired; it is deactivated. `failed`: refused for good, or the message's
 * short TTL ran out while the push service kept failing. `pending`: no outcome within the wait
 * (no push-worker running, or the push service asked to retry later); the job stays queued.
 */
export type TestPushOutcome = 'sent' | 'gone' | 'failed' | 'pending';

export interface TestPushResult {
  /** The Message id the service worker receives. */
  id: string;
  outcome: TestPushOutcome;
  /** The push service's HTTP status, when it is known (the answer that deactivated it). */
  status?: number;
}

export const TEST_PUSH_WAIT_MS = 10_000;
/** A test message is worth showing only now: a worker that starts later drops it. */
const TEST_PUSH_TTL_SECONDS = 60;

/**
 * Sends a test notification to one of the caller's own active subscriptions, through the
 * system (a push job for that endpoint alone, delivered by a push-worker), and waits, bounded,
 * for the worker's outcome. Throws NotFoundError when the subscription is not the caller's or
 * not active.
 */
export async function sendTestPush(
  deps: SendTestPushDeps,
  caller: UserCaller,
  input: { package: string; endpoint: string },
): Promise<TestPushResult> {
  assertPackageAccess(caller, input.package);
  const endpointHash = hashEndpoint(input.endpoint);
  const [subscription] = (await deps.subscriptions.listActive(input.package, [caller.user])).filter(
    (s) => s.endpointHash === endpointHash,
  );
  if (!subscription) throw new NotFoundError('no such active subscription of yours');

  const id = `test-${randomUUID()}`;
  const now = Date.now();
  const { user: _none, ...message } = buildMessage(
    {
      title: 'Test notification',
      body: 'Push notifications work on this device.',
      data: { test: true },
      ttl: TEST_PUSH_TTL_SECONDS,
      urgency: 'high',
      delivery: 'always',
    },
    { id, package: input.package, user: caller.user, createdAt: new Date(now).toISOString() },
  );
  const job: PushJob = {
    eventId: id,
    package: input.package,
    users: [caller.user],
    message,
    ttl: TEST_PUSH_TTL_SECONDS,
    urgency: 'high',
    expiresAt: now + TEST_PUSH_TTL_SECONDS * 1000,
    endpointHash,
  };
  await deps.routeQueue.addPush(job);
  const counts = await waitForOutcome(deps, id);
  const outcome = outcomeOf(counts);
  deps.log.info({ eventId: id, package: input.package, user: caller.user, outcome }, 'test push');
  if (outcome !== 'gone') return { id, outcome };
  const status = await goneStatus(deps, input.package, caller.user, endpointHash);
  return status === undefined ? { id, outcome } : { id, outcome, status };
}

/** The counts once the worker finished the job (`pushDone`), or the last ones seen at the bound. */
async function waitForOutcome(deps: SendTestPushDeps, id: string): Promise<DeliveryCounts | null> {
  const deadline = Date.now() + (deps.waitMs ?? TEST_PUSH_WAIT_MS);
  for (;;) {
    const counts = await deps.status.get(id);
    if (counts.pushDone > 0) return counts;
    const left = deadline - Date.now();
    if (left <= 0) return null;
    await new Promise((resolve) => setTimeout(resolve, Math.min(left, deps.pollMs ?? 100)));
  }
}

function outcomeOf(counts: DeliveryCounts | null): TestPushOutcome {
  if (!counts) return 'pending';
  if (counts.sent > 0) return 'sent';
  if (counts.cleaned > 0) return 'gone';
  return 'failed';
}

/** The status in the deactivation reason (`push-service-410`); none for an expired subscription. */
async function goneStatus(
  deps: SendTestPushDeps,
  pkg: string,
  user: string,
  endpointHash: string,
): Promise<number | undefined> {
  const row = (await deps.subscriptions.list(user, pkg)).find((s) => s.endpointHash === endpointHash);
  const match = /^push-service-(\d{3})$/.exec(row?.deactivatedReason ?? '');
  return match ? Number(match[1]) : undefined;
}
