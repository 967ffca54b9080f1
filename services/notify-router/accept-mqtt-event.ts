import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AppError } from '../../shared/errors/index.js';
import { eventSchema, parseOrThrow, type Target } from '../../shared/events/index.js';
import { acceptEvent, type AcceptEventDeps } from '../../shared/intake/index.js';
import type { NotifyTarget, Topics } from '../../shared/topics/index.js';

export interface MqttIntakeDeps extends AcceptEventDeps {
  topics: Topics;
  /** Gives a redelivered QoS 1 message the id its first delivery got. */
  redeliveries?: RedeliveryIds;
}

export interface RedeliveryIds {
  idFor(topic: string, messageId: number, payload: Buffer): Promise<string>;
}

/** How long a delivery is remembered: far longer than any redelivery takes. */
const REDELIVERY_WINDOW_MS = 3_600_000;

/**
 * Remembers, per (topic, packet id, payload), the event id given to a message without one. The
 * broker redelivers an unacknowledged QoS 1 message (the router died before its PUBACK, or
 * another router took over the session) with the same packet id: it then gets the same event id,
 * and routing it again is a no-op. Packet ids cycle, so the memory lasts an hour, not forever.
 */
export function createRedeliveryIds(redis: Redis, prefix: string): RedeliveryIds {
  return {
    async idFor(topic, messageId, payload) {
      const digest = createHash('sha256').update(`${topic}\u0000${messageId}\u0000`).update(payload).digest('base64url');
      const fresh = randomUUID();
      // SET NX GET (Redis 7): sets when absent, and answers what was there when present.
      const earlier = (await redis.call('SET', `${prefix}:mqtt-delivery:${digest}`, fresh, 'PX', REDELIVERY_WINDOW_MS, 'NX', 'GET')) as string | null;
      return earlier ?? fresh;
    },
  };
}

export type MqttIntakeResult =
  | { accepted: true; id: string }
  | { accepted: false; reason: string; code: string };

/**
 * Takes an event published by a producer on `<root>/<pkg>/notify/...`. A bad event is an
 * outcome (logged and counted by the caller), never an exception that stops the router; an
 * unexpected error (database or Redis down) is thrown so the message is not acknowledged.
 */
export async function acceptMqttEvent(
  deps: MqttIntakeDeps,
  topic: string,
  payload: Buffer,
  messageId?: number,
): Promise<MqttIntakeResult> {
  const parsed = deps.topics.parseNotify(topic);
  if (!parsed) return { accepted: false, code: 'invalid_topic', reason: `not a notify topic: ${topic}` };
  try {
    const json: unknown = JSON.parse(payload.toString('utf8'));
    const event = parseOrThrow(eventSchema, json, 'event');
    if (event.id === undefined && messageId !== undefined && deps.redeliveries) {
      event.id = await deps.redeliveries.idFor(topic, messageId, payload);
    }
    const { id } = await acceptEvent(deps, {
      package: parsed.package,
      target: targetOf(parsed.target),
      event,
      source: 'mqtt',
    });
    return { accepted: true, id };
  } catch (err) {
    if (err instanceof SyntaxError) return { accepted: false, code: 'invalid_json', reason: 'payload is not JSON' };
    if (err instanceof AppError && err.httpStatus < 500) {
      return { accepted: false, code: err.code, reason: err.message };
    }
    throw err;
  }
}

function targetOf(target: NotifyTarget): Target {
  if (target.kind === 'user') return { user: target.user };
  if (target.kind === 'group') return { group: target.group };
  return { all: true };
}
