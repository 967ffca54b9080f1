import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AppError } from '../../shared/errors/index.js';
import { eventSchema, parseOrThrow, readJson, type Event, type Target } from '../../shared/events/index.js';
import { acceptEvent, conflictFor, messageJson, newRouteJob, type AcceptEventDeps } from '../../shared/intake/index.js';
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
  /** `deliveryKey(topic, messageId, payload)` of a QoS 1 delivery: what redeliveries are known by. */
  key?: string;
}

export type MqttIntakeResult =
  | { accepted: true; id: string }
  | { accepted: false; reason: string; code: string };

export interface TakenEvent {
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
 * broker has taken the publish, the delivery is noted in Redis. aedes does not mark what it
 * sends again, so every QoS 1 delivery first reads those notes (one round trip for all the
 * deliveries of an event-loop turn): a router that took over an event whose first delivery was
 * published only stores it, under the id that delivery got. Group, "all" and scheduled events
 * are stored first and published by the route worker.
 */
export function takeMqttEvent(deps: MqttIntakeDeps, delivery: MqttDelivery, persist: Persist): TakenEvent {
  const read = readEvent(deps.topics, delivery);
  if ('code' in read) return { result: Promise.resolve(read) };
  const { pkg, target, event } = read;
  const { key } = delivery;
  const fastPath = 'user' in target && event.sendAt === undefined;
  // The broker does not mark a redelivery, so every QoS 1 delivery asks whether an earlier one
  // made its id or sent its publish (one Redis round trip for all of an event-loop turn).
  const lookedUp = key !== undefined && deps.redeliveries !== undefined && (fastPath || event.id === undefined);
  const earlier = lookedUp ? persist(() => deps.redeliveries!.lookUp(key)) : NOTHING_EARLIER;
  if (!fastPath) {
    const result = refusalOrThrow(async () => {
      event.id ??= (await earlier)?.id ?? randomUUID();
      // Remembered before it is stored: a redelivery must get the id the stored event has.
      await remember(deps, key, { id: event.id, published: false }, persist);
      const { id } = await persist(() => acceptEvent(deps, { package: pkg, target, event, source: 'mqtt' }));
      return { accepted: true, id };
    });
    return { result };
  }

  const publish = (first: EarlierDelivery | null) => {
    event.id ??= first?.id ?? randomUUID();
    const job = newRouteJob({ package: pkg, target, event, source: 'mqtt' }, new Date());
    const message = messageJson(job, target.user);
    if (first?.published) return { job, sent: Promise.resolve() };
    return { job, sent: deps.realtime.publish(deps.topics.push(pkg, target.user), message) };
  };
  // Look-ups answer in the order they were asked, so publishes keep the broker's order.
  let published: Promise<ReturnType<typeof publish>>;
  try {
    published = lookedUp ? earlier.then(publish) : Promise.resolve(publish(null));
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
    await remember(deps, key, { id: job.id, published: job.realtimePublished }, persist);
    const outcome = await persist(() => deps.recorder.record(job));
    if (outcome === 'conflict') throw conflictFor(job.id);
    return { accepted: true, id: job.id };
  });
  return { result };
}

const NOTHING_EARLIER: Promise<EarlierDelivery | null> = Promise.resolve(null);

type ReadEvent = { pkg: string; target: Target; event: Event } | (MqttIntakeResult & { accepted: false });

function readEvent(topics: Topics, delivery: MqttDelivery): ReadEvent {
  const parsed = topics.parseNotify(delivery.topic);
  if (!parsed) return { accepted: false, code: 'invalid_topic', reason: `not a notify topic: ${delivery.topic}` };
  // Not UTF-8, or nested deep enough to overflow JSON.stringify later: refused before parsing.
  const json = readJson(delivery.payload);
  if (!json.ok) return { accepted: false, code: json.code, reason: json.message };
  try {
    const event = parseOrThrow(eventSchema, json.value, 'event');
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

async function remember(deps: MqttIntakeDeps, key: string | undefined, what: EarlierDelivery, persist: Persist): Promise<void> {
  const { redeliveries } = deps;
  if (!redeliveries || key === undefined) return;
  await persist(() => redeliveries.remember(key, what));
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
  lookUp(key: string): Promise<EarlierDelivery | null>;
  remember(key: string, what: EarlierDelivery): Promise<void>;
}

/** What a QoS 1 delivery is known by: the broker sends it again with the same packet id. */
export function deliveryKey(topic: string, messageId: number, payload: Buffer): string {
  return createHash('sha256').update(`${topic}\u0000${messageId}\u0000`).update(payload).digest('base64url');
}

/**
 * How long a delivery is remembered, 2 to 3 minutes: far longer than a redelivery takes (the
 * broker sends unacknowledged messages again as soon as a router resumes the session), and at
 * about 100 bytes a note, 10,000 events a second keep under 200 MB of notes in Redis. Notes go
 * into one hash per minute, so the notes of a turn of the event loop are one HSET, not a SET each.
 */
const PERIOD_MS = 60_000;
const PERIODS_KEPT = 2;
/** Notes per script call: Lua's unpack() stops at a few thousand values. */
const MAX_PER_CALL = 1_000;

// KEYS: this minute's hash. ARGV: when it expires (ms), then field, value, field, value, …
const REMEMBER = `redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])`;
// KEYS: the kept minutes' hashes, newest first. ARGV: fields. The newest note of each, or false.
const LOOK_UP = `local found = {}
for i, field in ipairs(ARGV) do
  found[i] = false
  for _, key in ipairs(KEYS) do
    local value = redis.call('HGET', key, field)
    if value then found[i] = value break end
  end
end
return found`;

/**
 * Remembers, per (topic, packet id, payload), the event id a QoS 1 message got and whether its
 * realtime publish went out. The broker redelivers an unacknowledged message (the router died
 * before its PUBACK, or another router took over the session) with the same packet id: it gets
 * the same id, so storing and routing it again is a no-op, and is not published twice. Only
 * messages that may be redeliveries look up (newest period first); every delivery overwrites
 * what an earlier message with the same packet id left in the current period.
 */
export function createRedeliveryIds(redis: Redis, prefix: string, now: () => number = Date.now): RedeliveryIds {
  const periodKey = (period: number) => `${prefix}:mqtt-deliveries:${period}`;
  let pending: { field: string; value: string; settle: (err: Error | null) => void }[] = [];
  // One script call per batch, not a pipeline of commands: at a few events per event-loop turn,
  // ioredis's pipeline and command objects per event made the router's garbage collections
  // three times as frequent (an in-process measurement, docs/performance.md).
  const flush = () => {
    const batch = pending.splice(0, MAX_PER_CALL);
    if (pending.length > 0) setImmediate(flush);
    const period = Math.floor(now() / PERIOD_MS);
    const args: (string | number)[] = [(period + 1 + PERIODS_KEPT) * PERIOD_MS];
    for (const entry of batch) args.push(entry.field, entry.value);
    redis.eval(REMEMBER, 1, periodKey(period), ...args).then(
      () => batch.forEach((entry) => entry.settle(null)),
      (err: Error) => batch.forEach((entry) => entry.settle(err)),
    );
  };
  type Asked = { name: string; resolve: (found: EarlierDelivery | null) => void; reject: (err: unknown) => void };
  let asked: Asked[] = [];
  const answer = () => {
    const batch = asked.splice(0, MAX_PER_CALL);
    if (asked.length > 0) setImmediate(answer);
    const period = Math.floor(now() / PERIOD_MS);
    const keys = Array.from({ length: PERIODS_KEPT + 1 }, (_, back) => periodKey(period - back));
    (redis.eval(LOOK_UP, keys.length, ...keys, ...batch.map((entry) => entry.name)) as Promise<(string | null)[]>).then(
      (values) =>
        batch.forEach((entry, i) => {
          const value = values[i];
          entry.resolve(typeof value === 'string' ? { published: value.startsWith('1'), id: value.slice(2) } : null);
        }),
      (err: unknown) => batch.forEach((entry) => entry.reject(err)),
    );
  };
  return {
    lookUp(name) {
      return new Promise((resolve, reject) => {
        asked.push({ name, resolve, reject });
        if (asked.length === 1) setImmediate(answer);
      });
    },
    remember(field, { id, published }) {
      return new Promise<void>((resolve, reject) => {
        const settle = (err: Error | null) => (err ? reject(err) : resolve());
        pending.push({ field, value: `${published ? 1 : 0}|${id}`, settle });
        if (pending.length === 1) setImmediate(flush);
      });
    },
  };
}
