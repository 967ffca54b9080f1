import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AppError } from '../../shared/errors/index.js';
import { eventSchema, parseOrThrow, type Event, type RouteJob, type Target } from '../../shared/events/index.js';
import { acceptEvent, messageJson, newRouteJob, type AcceptEventDeps } from '../../shared/intake/index.js';
import type { NotifyTarget, Topics } from '../../shared/topics/index.js';
import type { EventRecorder } from './event-recorder.js';
import type { RealtimePublisher } from './realtime-publisher.js';

export interface MqttIntakeDeps extends AcceptEventDeps {
  topics: Topics;
  realtime: Pick<RealtimePublisher, 'publish'>;
  recorder: EventRecorder;
  /** Gives a redelivered QoS 1 message the id its first delivery got. */
  redeliveries?: RedeliveryIds;
}

/** One message as the intake took it from the broker. */
export interface MqttDelivery {
  topic: string;
  payload: Buffer;
  /** The QoS 1 packet id; absent for QoS 0. */
  messageId?: number;
  /** The broker may be sending it again (just after a (re)connect, or marked dup). */
  maybeRedelivered: boolean;
}

export type MqttIntakeResult =
  | { accepted: true; id: string }
  | { accepted: false; reason: string; code: string };

export interface TakenEvent {
  /** Settles once the realtime publish has been sent (or was not this path's to send). */
  published: Promise<void>;
  /** Settles once the event is durable or refused: then its PUBACK may go. */
  result: Promise<MqttIntakeResult>;
}

/** Runs a step until it succeeds; rejects only when the intake is closing. */
export type Persist = <T>(step: () => Promise<T>) => Promise<T>;

/**
 * Takes an event published by a producer on `<root>/<pkg>/notify/...`. A bad event is an
 * outcome (logged and counted by the caller), never an exception that stops the router.
 *
 * The realtime fast path: an event for one user, to be sent now, is published to the user's
 * push topic before anything is stored, so the dashboard does not wait on the database or the
 * queue; it is then stored with the next group commit, and only then acknowledged. Once the
 * broker has taken the publish, the delivery is remembered in Redis; a router that dies before
 * its PUBACK leaves the event to the broker, which sends it again, and the next router finds
 * that it was published (and under which id) and only stores it. Group, "all" and scheduled
 * events are stored first and published by the route worker.
 */
export function takeMqttEvent(deps: MqttIntakeDeps, delivery: MqttDelivery, persist: Persist): TakenEvent {
  const read = readEvent(deps.topics, delivery);
  if ('code' in read) return { published: Promise.resolve(), result: Promise.resolve(read) };
  const { pkg, target, event } = read;
  const earlier = delivery.maybeRedelivered ? lookUp(deps, delivery, persist) : NOTHING_EARLIER;
  if (!('user' in target) || event.sendAt !== undefined) {
    const result = refusalOrThrow(async () => {
      event.id ??= (await earlier)?.id ?? randomUUID();
      // Remembered before it is stored: a redelivery must get the id the stored event has.
      await remember(deps, delivery, { id: event.id, published: false }, persist);
      const { id } = await persist(() => acceptEvent(deps, { package: pkg, target, event, source: 'mqtt' }));
      return { accepted: true, id };
    });
    return { published: Promise.resolve(), result };
  }

  const publish = (first: EarlierDelivery | null) => {
    event.id ??= first?.id ?? randomUUID();
    const job = newRouteJob({ package: pkg, target, event, source: 'mqtt' }, new Date());
    const message = messageJson(job, target.user);
    if (first?.published) return { job, sent: Promise.resolve() };
    return { job, sent: deps.realtime.publish(deps.topics.push(pkg, target.user), message) };
  };
  // A fresh delivery is published now, in this turn; a possible redelivery after its look-up.
  let published: Promise<ReturnType<typeof publish>>;
  try {
    published = delivery.maybeRedelivered ? earlier.then(publish) : Promise.resolve(publish(null));
  } catch (err) {
    published = Promise.reject(err);
  }
  const result = refusalOrThrow(async () => {
    const { job, sent } = await published;
    // A publish the broker did not take is left to the route worker, which retries it.
    job.realtimePublished = await sent.then(
      () => true,
      () => false,
    );
    await remember(deps, delivery, { id: job.id, published: job.realtimePublished }, persist);
    const outcome = await persist(() => deps.recorder.record(job));
    if (outcome === 'conflict') return conflict(job);
    return { accepted: true, id: job.id };
  });
  return { published: published.then(() => undefined, () => undefined), result };
}

const NOTHING_EARLIER: Promise<EarlierDelivery | null> = Promise.resolve(null);

type ReadEvent = { pkg: string; target: Target; event: Event } | (MqttIntakeResult & { accepted: false });

function readEvent(topics: Topics, delivery: MqttDelivery): ReadEvent {
  const parsed = topics.parseNotify(delivery.topic);
  if (!parsed) return { accepted: false, code: 'invalid_topic', reason: `not a notify topic: ${delivery.topic}` };
  let json: unknown;
  try {
    json = JSON.parse(delivery.payload.toString('utf8'));
  } catch {
    return { accepted: false, code: 'invalid_json', reason: 'payload is not JSON' };
  }
  try {
    const event = parseOrThrow(eventSchema, json, 'event');
    return { pkg: parsed.package, target: targetOf(parsed.target), event };
  } catch (err) {
    if (err instanceof AppError && err.httpStatus < 500) return { accepted: false, code: err.code, reason: err.message };
    throw err;
  }
}

/** Turns a refusal thrown by the intake (conflict, validation) into an outcome. */
async function refusalOrThrow(run: () => Promise<MqttIntakeResult>): Promise<MqttIntakeResult> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof AppError && err.httpStatus < 500) return { accepted: false, code: err.code, reason: err.message };
    throw err;
  }
}

function conflict(job: RouteJob): MqttIntakeResult {
  return { accepted: false, code: 'conflict', reason: `event id ${job.id} was already used for another event` };
}

function lookUp(deps: MqttIntakeDeps, delivery: MqttDelivery, persist: Persist): Promise<EarlierDelivery | null> {
  const { redeliveries } = deps;
  if (!redeliveries || delivery.messageId === undefined) return Promise.resolve(null);
  return persist(() => redeliveries.lookUp(delivery.topic, delivery.messageId!, delivery.payload));
}

async function remember(deps: MqttIntakeDeps, delivery: MqttDelivery, what: EarlierDelivery, persist: Persist): Promise<void> {
  const { redeliveries } = deps;
  if (!redeliveries || delivery.messageId === undefined) return;
  await persist(() => redeliveries.remember(delivery.topic, delivery.messageId!, delivery.payload, what));
}

function targetOf(target: NotifyTarget): Target {
  if (target.kind === 'user') return { user: target.user };
  if (target.kind === 'group') return { group: target.group };
  return { all: true };
}

/** What an earlier delivery of the same message got as far as. */
export interface EarlierDelivery {
  id: string;
  /** The intake published it to the user's topic and the broker took it. */
  published: boolean;
}

export interface RedeliveryIds {
  lookUp(topic: string, messageId: number, payload: Buffer): Promise<EarlierDelivery | null>;
  remember(topic: string, messageId: number, payload: Buffer, what: EarlierDelivery): Promise<void>;
}

/**
 * How long a delivery is remembered: far longer than a redelivery takes (the broker sends
 * unacknowledged messages again as soon as a router resumes the session), short enough that
 * two identical events with the same packet id rarely meet. Notes go into one Redis hash per
 * period, so that the notes of a turn of the event loop are one HSET, not a SET each.
 */
const PERIOD_MS = 300_000;
const PERIODS_KEPT = 2;

/**
 * Remembers, per (topic, packet id, payload), the event id a QoS 1 message got and whether its
 * realtime publish went out. The broker redelivers an unacknowledged message (the router died
 * before its PUBACK, or another router took over the session) with the same packet id: it gets
 * the same id, so storing and routing it again is a no-op, and is not published twice. Only
 * messages that may be redeliveries look up (newest period first); every delivery overwrites
 * what an earlier message with the same packet id left in the current period.
 */
export function createRedeliveryIds(redis: Redis, prefix: string, now: () => number = Date.now): RedeliveryIds {
  const field = (topic: string, messageId: number, payload: Buffer) =>
    createHash('sha256').update(`${topic}\u0000${messageId}\u0000`).update(payload).digest('base64url');
  const periodKey = (period: number) => `${prefix}:mqtt-deliveries:${period}`;
  let pending: { field: string; value: string; settle: (err: Error | null) => void }[] = [];
  const flush = () => {
    const batch = pending;
    pending = [];
    const period = Math.floor(now() / PERIOD_MS);
    const key = periodKey(period);
    redis
      .multi()
      .hset(key, ...batch.flatMap((entry) => [entry.field, entry.value]))
      .pexpireat(key, (period + 1 + PERIODS_KEPT) * PERIOD_MS)
      .exec()
      .then(
        (results) => {
          const err = results?.find(([failed]) => failed)?.[0] ?? null;
          for (const entry of batch) entry.settle(err);
        },
        (err: Error) => batch.forEach((entry) => entry.settle(err)),
      );
  };
  return {
    async lookUp(topic, messageId, payload) {
      const period = Math.floor(now() / PERIOD_MS);
      const name = field(topic, messageId, payload);
      const pipeline = redis.pipeline();
      for (let back = 0; back <= PERIODS_KEPT; back++) pipeline.hget(periodKey(period - back), name);
      const results = (await pipeline.exec()) ?? [];
      for (const [err, value] of results) {
        if (err) throw err;
        if (typeof value === 'string') return { published: value.startsWith('1'), id: value.slice(2) };
      }
      return null;
    },
    remember(topic, messageId, payload, { id, published }) {
      return new Promise<void>((resolve, reject) => {
        const settle = (err: Error | null) => (err ? reject(err) : resolve());
        pending.push({ field: field(topic, messageId, payload), value: `${published ? 1 : 0}|${id}`, settle });
        if (pending.length === 1) setImmediate(flush);
      });
    },
  };
}
