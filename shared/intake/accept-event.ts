import { randomUUID } from 'node:crypto';
import type { NotificationStore } from '../database/index.js';
import type { NotificationRow } from '../entities/index.js';
import { ConflictError, TooLargeError, ValidationError } from '../errors/index.js';
import {
  buildMessage,
  usersOf,
  MAX_MESSAGE_BYTES,
  type Event,
  type RouteJob,
  type Target,
} from '../events/index.js';
import type { Logger } from '../logging/index.js';
import type { RouteQueue } from '../queue/index.js';

export interface AcceptEventDeps {
  notifications: NotificationStore;
  routeQueue: RouteQueue;
  log: Logger;
  now?: () => Date;
}

export interface AcceptEventInput {
  package: string;
  target: Target;
  event: Event;
  source: RouteJob['source'];
  requestId?: string;
}

/** A `sendAt` this far in the past is clock skew, not a mistake: it is sent at once. */
const SEND_AT_SKEW_MS = 60_000;
const SEND_AT_MAX_AHEAD_MS = 366 * 24 * 3600 * 1000;

/**
 * Takes an event in (from HTTP or MQTT): checks it fits, records it, and queues it for
 * routing. Once this returns, the event is durable. A repeated id with the same content is a
 * producer retrying and is answered as the first time; the same id with other content is a
 * conflict.
 */
export async function acceptEvent(
  deps: AcceptEventDeps,
  input: AcceptEventInput,
): Promise<{ id: string; repeated: boolean }> {
  const now = deps.now?.() ?? new Date();
  const job = routeJobFor(input, now);
  let delayMs: number;
  try {
    delayMs = sendDelay(job.event.sendAt, now);
  } catch (err) {
    // A producer retrying after the sendAt it first gave has passed is still a repeat.
    const existing = input.event.id === undefined ? null : await deps.notifications.get(job.id);
    if (!existing || !isSameEvent(existing, job)) throw err;
    delayMs = 0;
  }

  const recorded = await deps.notifications.record(job);
  if (!recorded.created) {
    if (!isSameEvent(recorded.existing, job)) throw conflictFor(job.id);
    job.acceptedAt = recorded.existing.createdAt.toISOString();
  }
  // Also on a repeat: the first attempt may have failed between recording and queueing. The
  // deterministic job id makes this a no-op when the job is already there.
  await deps.routeQueue.add(job, delayMs);
  deps.log.debug(
    { eventId: job.id, package: job.package, repeated: !recorded.created, requestId: job.requestId },
    'event accepted',
  );
  return { id: job.id, repeated: !recorded.created };
}

/**
 * The route job for an event taken in: its id (given, or a new one) and the checks every
 * intake makes before anything is stored. Throws a TooLargeError when the Message cannot fit
 * one Web Push record.
 */
function routeJobFor(input: AcceptEventInput, now: Date): RouteJob {
  const job = newRouteJob(input, now);
  // A group's members are not known yet: measure with the longest name a user can have.
  const users = usersOf(job.target) ?? ['x'.repeat(128)];
  messageJson(job, users.reduce((a, b) => (b.length > a.length ? b : a), ''));
  return job;
}

/** The route job for an event, not yet checked (see `routeJobFor` and `messageJson`). */
export function newRouteJob(input: AcceptEventInput, now: Date): RouteJob {
  const { id: givenId, ...event } = input.event;
  return {
    id: givenId ?? randomUUID(),
    package: input.package,
    target: input.target,
    event,
    acceptedAt: now.toISOString(),
    source: input.source,
    requestId: input.requestId,
  };
}

/**
 * A user's Message for the job, as JSON. RFC 8291 §4 / RFC 8188: it must fit one record, so
 * this refuses it (TooLargeError) at intake, and an event never fails at delivery time.
 */
export function messageJson(job: RouteJob, user: string): string {
  const json = JSON.stringify(buildMessage(job.event, { id: job.id, package: job.package, user, createdAt: job.acceptedAt }));
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > MAX_MESSAGE_BYTES) {
    throw new TooLargeError(`the notification is ${bytes} bytes as JSON; Web Push carries at most ${MAX_MESSAGE_BYTES}`);
  }
  return json;
}

export function conflictFor(id: string): ConflictError {
  return new ConflictError(`event id ${id} was already used for another event`);
}

/** Whether a stored event is the one in `job` (a producer retrying), not another one under its id. */
export function isSameEvent(existing: NotificationRow, job: RouteJob): boolean {
  return (
    existing.package === job.package &&
    existing.target === JSON.stringify(job.target) &&
    existing.event === JSON.stringify(job.event)
  );
}

/** Milliseconds until a `sendAt` event fires; throws a ValidationError for a time out of range. */
function sendDelay(sendAt: string | undefined, now: Date): number {
  if (sendAt === undefined) return 0;
  const delay = Date.parse(sendAt) - now.getTime();
  if (delay < -SEND_AT_SKEW_MS) throw new ValidationError('invalid event: sendAt: must be in the future');
  if (delay > SEND_AT_MAX_AHEAD_MS) throw new ValidationError('invalid event: sendAt: at most a year ahead');
  return Math.max(0, delay);
}
