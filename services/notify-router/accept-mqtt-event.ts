import { AppError } from '../../shared/errors/index.js';
import { eventSchema, parseOrThrow, type Target } from '../../shared/events/index.js';
import { acceptEvent, type AcceptEventDeps } from '../../shared/intake/index.js';
import type { NotifyTarget, Topics } from '../../shared/topics/index.js';

export interface MqttIntakeDeps extends AcceptEventDeps {
  topics: Topics;
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
): Promise<MqttIntakeResult> {
  const parsed = deps.topics.parseNotify(topic);
  if (!parsed) return { accepted: false, code: 'invalid_topic', reason: `not a notify topic: ${topic}` };
  try {
    const json: unknown = JSON.parse(payload.toString('utf8'));
    const event = parseOrThrow(eventSchema, json, 'event');
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
