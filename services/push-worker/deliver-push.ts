import type {
  DeliverableSubscription,
  SubscriptionKey,
  SubscriptionStore,
  VapidKey,
} from '../../shared/database/index.js';
import type { PushJob } from '../../shared/events/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { checkEndpoint, type EndpointPolicy } from '../../shared/push-endpoints/index.js';
import { DEFAULT_ORIGIN_PAUSE_MS, UNANSWERED_ORIGIN_PAUSE_MS, type OriginGate } from './origin-gate.js';
import { createPlaintexts, encryptMessage, pushRequest } from './prepare-push.js';
import {
  Block,
  encryptBody,
  ENCRYPT_AHEAD,
  EncryptionTurns,
  nextTurn,
  pastExpiration,
  planSend,
  takeBody,
  type Body,
  type Encrypt,
  type EncryptFor,
  type PlannedSend,
} from './plan-sends.js';
import type { SendSlots } from './send-slots.js';
import { parseRetryAfter } from './retry-policy.js';
import type { VapidAuthorizer } from './vapid-jwt.js';
import type { PushResponse, PushSender } from './web-push-sender.js';

export interface DeliverPushDeps {
  subscriptions: SubscriptionStore;
  /** The key a subscription was made with (or the package's current one); cached keys may come without a promise. */
  vapidKeyFor(subscription: DeliverableSubscription): VapidKey | Promise<VapidKey>;
  sender: PushSender;
  authorizer: VapidAuthorizer;
  endpointPolicy: EndpointPolicy;
  originGate: OriginGate;
  /** Bounds sends in flight, including the recording of their outcome; unbounded when absent. */
  slots?: SendSlots;
  /** Records each endpoint's final outcome as it settles (crash-safe progress). */
  onSettled?(endpointHash: string, outcome: SettledOutcome): Promise<void>;
  onSent?(sample: { origin: string; outcome: SendOutcome; seconds: number }): void;
  log: Logger;
  now?: () => number;
  /** Encrypts a Message for one browser (tests: to see when); `encryptMessage` when absent. */
  encrypt?: Encrypt;
}

/**
 * sent: accepted (2xx). gone: the subscription is dead (404/410, expired, unusable keys) and
 * deactivated. rejected: refused for good (other 4xx). blocked: our policy refused the
 * endpoint. retry: try later (429, 5xx, network, deadline, origin paused).
 */
export type SendOutcome = 'sent' | 'gone' | 'rejected' | 'blocked' | 'retry';
export type SettledOutcome = Exclude<SendOutcome, 'retry'>;

export interface DeliveryReport {
  /** The event's TTL ran out before this attempt: nothing was sent. */
  expired: boolean;
  /** Subscriptions that were still to be reached when the TTL ran out. */
  expiredCount: number;
  /** Endpoints with a final outcome in this attempt: never sent to again for this job. */
  settled: Map<string, SettledOutcome>;
  /** Endpoint hashes to try again later. */
  retry: string[];
  /** The longest wait a push service asked for (Retry-After, or a paused origin). */
  retryAfterMs: number | null;
  counts: Record<SendOutcome, number>;
}

interface SendResult {
  outcome: SendOutcome;
  retryAfterMs?: number;
}

/**
 * Delivers one user's Message to each of their active subscriptions that has not already
 * settled in an earlier attempt. A dead subscription is an outcome, not an error.
 */
export async function deliverPush(
  deps: DeliverPushDeps,
  job: PushJob,
  alreadySettled: ReadonlySet<string>,
): Promise<DeliveryReport> {
  const now = deps.now ?? Date.now;
  const report: DeliveryReport = {
    expired: false,
    expiredCount: 0,
    settled: new Map(),
    retry: [],
    retryAfterMs: null,
    counts: { sent: 0, gone: 0, rejected: 0, blocked: 0, retry: 0 },
  };
  const subscriptions = (await deps.subscriptions.listActive(job.package, job.users)).filter(
    (s) => !alreadySettled.has(s.endpointHash) && (job.endpointHash === undefined || s.endpointHash === job.endpointHash),
  );
  // RFC 8030 §5.2: after its TTL a message is worthless; do not send it late.
  if (now() >= job.expiresAt) {
    report.expired = true;
    report.expiredCount = subscriptions.length;
    return report;
  }
  // Every send's outcome is kept, failed or not: one subscription's failure (its VAPID key
  // cannot be loaded, the database blinks) must not lose the outcomes of the others, or a retry
  // would send to them again.
  const encryptFor = encryptBody(deps.encrypt ?? encryptMessage, createPlaintexts(job));
  const endpoints = subscriptions.map((s) => checkEndpoint(s.endpoint, deps.endpointPolicy));
  const sending: Promise<PromiseSettledResult<SendResult>>[] = new Array(subscriptions.length);
  // Each push service's subscriptions go in blocks of their own, as they go through send slots of
  // their own: a push service that answers slowly holds back only its own next block.
  const byOrigin = new Map<string, number[]>();
  endpoints.forEach((endpoint, i) => {
    const origin = endpoint.url?.origin ?? '';
    const indexes = byOrigin.get(origin);
    if (indexes) indexes.push(i);
    else byOrigin.set(origin, [i]);
  });
  const turns = new EncryptionTurns();
  const sendInBlocks = async (indexes: number[]) => {
    let previous: Block | undefined;
    for (let from = 0; from < indexes.length; from += ENCRYPT_AHEAD) {
      await previous?.drained();
      const chunk = indexes.slice(from, from + ENCRYPT_AHEAD);
      while (!turns.fits(chunk.length)) await nextTurn();
      const block = new Block();
      // The whole block is encrypted before its first request leaves.
      const planned = chunk.map((i) => planSend(deps, subscriptions[i]!, endpoints[i]!, encryptFor, now(), block));
      turns.spent(block.held);
      // The other push services' blocks of this turn are planned before any request leaves: the
      // job's requests go out together.
      await Promise.resolve();
      planned.forEach((plan, k) => {
        sending[chunk[k]!] = settledSend(plan, sendOne(deps, job, plan, encryptFor, now));
      });
      previous = block;
    }
  };
  // Push services with the fewest subscriptions plan first: when a turn's encryption is full, the
  // larger blocks wait for the next one, not the few sends that cost the turn least.
  await Promise.all([...byOrigin.values()].sort((a, b) => a.length - b.length).map(sendInBlocks));
  const results = await Promise.all(sending);
  results.forEach((settled, i) => {
    const { endpointHash } = subscriptions[i]!;
    if (settled.status === 'rejected') {
      deps.log.error({ err: settled.reason, eventId: job.eventId }, 'push failed unexpectedly; will retry');
    }
    const result: SendResult = settled.status === 'fulfilled' ? settled.value : { outcome: 'retry' };
    report.counts[result.outcome]++;
    if (result.outcome !== 'retry') {
      report.settled.set(endpointHash, result.outcome);
      return;
    }
    report.retry.push(endpointHash);
    if (result.retryAfterMs !== undefined) {
      report.retryAfterMs = Math.max(report.retryAfterMs ?? 0, result.retryAfterMs);
    }
  });
  // One statement for all successes of the job. The outcomes are already in the ledger, so a
  // failure here costs only freshness of last_success_at, never a second send.
  const accepted = subscriptions.filter((s) => report.settled.get(s.endpointHash) === 'sent');
  if (accepted.length > 0) {
    await deps.subscriptions
      .recordSuccesses(job.package, accepted, new Date(now()))
      .catch((err: unknown) => deps.log.error({ err, eventId: job.eventId }, 'could not record successes'));
  }
  return report;
}

// Results without a Retry-After are shared: a send allocates no result of its own.
const RESULT: Readonly<Record<SendOutcome, SendResult>> = {
  sent: { outcome: 'sent' },
  gone: { outcome: 'gone' },
  rejected: { outcome: 'rejected' },
  blocked: { outcome: 'blocked' },
  retry: { outcome: 'retry' },
};

/** A send that got no answer: retried no sooner than its origin's pause ends. */
const UNANSWERED: SendResult = { outcome: 'retry', retryAfterMs: UNANSWERED_ORIGIN_PAUSE_MS };

/** An answered exchange (`response`), or one that ended without an answer. */
interface Exchanged {
  response: PushResponse | null;
  result: SendResult;
}

/** A send's outcome, failed or not; its planned body counts as gone once the send has ended. */
function settledSend(planned: PlannedSend, sending: Promise<SendResult>): Promise<PromiseSettledResult<SendResult>> {
  return sending.then(
    (value) => {
      takeBody(planned);
      return { status: 'fulfilled', value };
    },
    (reason: unknown) => {
      takeBody(planned);
      return { status: 'rejected', reason };
    },
  );
}

async function sendOne(
  deps: DeliverPushDeps,
  job: PushJob,
  planned: PlannedSend,
  encryptFor: EncryptFor,
  now: () => number,
): Promise<SendResult> {
  const { subscription, endpoint } = planned;
  if (endpoint.problem !== null) {
    const host = endpoint.url?.host ?? '(not parsed)';
    sendLog(deps.log, job, subscription, host).warn({ problem: endpoint.problem }, 'endpoint not allowed; not sent');
    return settle(deps, job, subscription, 'blocked');
  }
  const { url } = endpoint;
  if (pastExpiration(subscription, now())) {
    await deps.subscriptions.deactivate(keyOf(subscription), 'subscription-expired');
    sendLog(deps.log, job, subscription, url.host).info('subscription past its expirationTime; deactivated');
    return settle(deps, job, subscription, 'gone');
  }
  const { origin } = url;
  const held = deps.originGate.heldFor(origin);
  if (held > 0) return { outcome: 'retry', retryAfterMs: held };

  const found = deps.vapidKeyFor(subscription);
  const vapidKey = found instanceof Promise ? await found : found;
  const push = () => {
    // Asked in the slot: the origin may have stopped answering while this send waited for it,
    // and a send that takes the probe must be the one that goes.
    const paused = deps.originGate.waitFor(origin);
    if (paused > 0) return Promise.resolve({ response: null, result: { outcome: 'retry', retryAfterMs: paused } } as const);
    return exchange(deps, job, subscription, url, takeBody(planned) ?? encryptFor(subscription), vapidKey, now);
  };
  const { response, result } = await (deps.slots ? deps.slots.run(origin, push) : push());
  if (!response) return result;
  if (result.outcome === 'sent') {
    // Recorded for the whole job at once (recordSuccesses). RFC 8030 §5.2: the service may
    // keep the message for less time than we asked; its TTL answer is logged.
    if (deps.log.isLevelEnabled('debug')) {
      sendLog(deps.log, job, subscription, url.host).debug({ status: response.status, serviceTtl: response.headers['ttl'] }, 'push sent');
    }
    return result;
  }
  if (result.outcome === 'retry' && (response.status === 429 || response.status === 503)) {
    deps.originGate.pause(origin, result.retryAfterMs ?? DEFAULT_ORIGIN_PAUSE_MS);
  }
  await bookkeep(deps, keyOf(subscription), response, result, sendLog(deps.log, job, subscription, url.host));
  return result;
}

/** Sends one encrypted message and takes its answer, inside a send slot when there are slots. */
async function exchange(
  deps: DeliverPushDeps,
  job: PushJob,
  subscription: DeliverableSubscription,
  url: URL,
  body: Body,
  vapidKey: VapidKey,
  now: () => number,
): Promise<Exchanged> {
  if (body instanceof TypeError) {
    // Keys that cannot encrypt will never work: the browser must subscribe again.
    await deps.subscriptions.deactivate(keyOf(subscription), 'invalid-keys');
    sendLog(deps.log, job, subscription, url.host).warn({ err: body.message }, 'subscription keys unusable; deactivated');
    return { response: null, result: await settle(deps, job, subscription, 'gone') };
  }
  // A VAPID key that cannot sign is our problem, not the subscription's: it throws, and the
  // job is retried while an operator fixes the key.
  const authorization = deps.authorizer.authorization(url.origin, vapidKey);
  const started = now();
  let response: PushResponse;
  try {
    response = await deps.sender.send(pushRequest(job, subscription.endpoint, body, authorization, started, url));
  } catch (err) {
    const log = sendLog(deps.log, job, subscription, url.host);
    if ((err as { code?: string }).code === 'ERR_UNSAFE_PUSH_ADDRESS') {
      log.warn({ err: (err as Error).message }, 'endpoint resolves to a non-public address; not sent');
      return { response: null, result: await settle(deps, job, subscription, 'blocked') };
    }
    if ((err as { code?: string }).code === 'ERR_INVALID_PUSH_HEADER') {
      // Our request is at fault, not the push service: no retry, and no pause for its origin.
      log.error({ err: (err as Error).message }, 'push request has an invalid header; not sent');
      return { response: null, result: await settle(deps, job, subscription, 'rejected') };
    }
    log.warn({ err: (err as Error).message }, 'push service unreachable or too slow; will retry');
    // No answer (deadline, reset, refused): its other sends would most likely wait out the same
    // deadline in their slots, holding their jobs. They are retried after a short pause, and then
    // only once one probe has been answered.
    deps.originGate.suspect(url.origin);
    deps.onSent?.({ origin: url.origin, outcome: 'retry', seconds: (now() - started) / 1000 });
    return { response: null, result: UNANSWERED };
  }
  deps.originGate.answered(url.origin);
  const result = outcomeOf(response, now);
  deps.onSent?.({ origin: url.origin, outcome: result.outcome, seconds: (now() - started) / 1000 });
  // Recorded before the slot is given back: an answered send must not be repeated.
  if (result.outcome !== 'retry') await settle(deps, job, subscription, result.outcome);
  return { response, result };
}

/**
 * Writes a final outcome to the ledger. The outcome stands even when it cannot be written
 * down: answering "retry" here would send an accepted message again. Only a crash before the
 * next write could repeat it.
 */
async function settle(
  deps: DeliverPushDeps,
  job: PushJob,
  subscription: DeliverableSubscription,
  outcome: SettledOutcome,
): Promise<SendResult> {
  try {
    await deps.onSettled?.(subscription.endpointHash, outcome);
  } catch (err) {
    deps.log.error({ err, eventId: job.eventId }, 'could not record a settled push');
  }
  return RESULT[outcome];
}

function keyOf(subscription: DeliverableSubscription): SubscriptionKey {
  return { user: subscription.user, package: subscription.package, endpointHash: subscription.endpointHash };
}

/** What a push service's answer means (RFC 8030 §5, §8.4; the contract's outcome table). */
function outcomeOf(response: PushResponse, now: () => number): SendResult {
  const { status } = response;
  if (status >= 200 && status < 300) return RESULT.sent;
  if (status === 404 || status === 410) return RESULT.gone;
  if (status === 429 || status >= 500) {
    return { outcome: 'retry', retryAfterMs: parseRetryAfter(response.headers['retry-after'], now()) ?? undefined };
  }
  return RESULT.rejected;
}

/**
 * Updates the subscription after the push service refused or failed (a success is recorded
 * for the whole job at once). The outcome stands even if this fails: a retry would otherwise
 * send an accepted message twice.
 */
async function bookkeep(
  deps: DeliverPushDeps,
  key: SubscriptionKey,
  response: PushResponse,
  result: SendResult,
  log: Logger,
): Promise<void> {
  const { status } = response;
  const record = (what: string, write: Promise<unknown>) =>
    write.catch((err: unknown) => log.error({ err, status }, `could not record ${what}`));
  switch (result.outcome) {
    case 'gone':
      await record('the deactivation', deps.subscriptions.deactivate(key, `push-service-${status}`));
      log.info({ status }, 'subscription gone; deactivated');
      return;
    case 'retry':
      log.warn({ status, retryAfterMs: result.retryAfterMs, body: response.text }, 'push service busy or failing; will retry');
      return;
    default: {
      await record('the failure', deps.subscriptions.recordFailure(key));
      const hint =
        status === 403
          ? 'the VAPID key does not match the one the browser subscribed with'
          : status === 413
            ? 'the payload is too large for this push service'
            : undefined;
      log.warn({ status, body: response.text, hint }, 'push rejected');
    }
  }
}

/**
 * The logger of one send, made only when something is logged: most sends log nothing, and a
 * pino child (with redaction) per send was a measurable share of the send path.
 */
function sendLog(parent: Logger, job: PushJob, subscription: DeliverableSubscription, endpointHost: string): Logger {
  return parent.child({
    eventId: job.eventId,
    user: subscription.user,
    endpointHost,
    requestId: job.requestId,
  });
}
