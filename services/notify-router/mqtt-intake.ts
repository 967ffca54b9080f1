import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type IPublishPacket, type MqttClient } from 'mqtt';
import type { MqttClientConfig } from '../../shared/config/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { deliveryKey, takeMqttEvent, type MqttIntakeDeps, type MqttIntakeResult, type Persist, type TakenEvent } from './accept-mqtt-event.js';
import { deferAcks } from './deferred-acks.js';
import { sendWithoutDelay } from './no-delay.js';

export interface MqttIntake {
  close(): Promise<void>;
}

export interface MqttIntakeOptions {
  observe?: (result: string) => void;
  /** Events taken in and not yet acknowledged before the intake stops reading. */
  maxInHand?: number;
}

/**
 * Covers a commit that is slow for a moment without stalling realtime; more only keeps more
 * objects alive long enough to be promoted, and the garbage collector pays for that. The
 * broker's queue for the intake is indexed (outgoing-queues.ts), so its length costs nothing.
 */
const DEFAULT_MAX_IN_HAND = 2_000;
/** How long a stopping intake waits for the events in hand to be stored and acknowledged. */
const DRAIN_MS = 5_000;

/**
 * Takes producers' events from `<root>/+/notify/#` on a connection of its own. It holds a
 * persistent session (clean: false), so QoS 1 events published while the router restarts wait
 * in the broker, and acknowledges each event only once it is stored, in the order they came.
 * Many events are in hand at once (see deferred-acks.ts), up to `maxInHand`; then the intake
 * stops reading and the broker holds the rest. While the database or Redis is down each event
 * in hand keeps retrying its step. Realtime publishes use another connection.
 */
export async function startMqttIntake(
  config: MqttClientConfig & { url: string },
  deps: MqttIntakeDeps,
  log: Logger,
  options: MqttIntakeOptions = {},
): Promise<MqttIntake> {
  const maxInHand = options.maxInHand ?? DEFAULT_MAX_IN_HAND;
  // Handlers go in before the connection opens: the broker sends what it kept right after CONNACK.
  const client: MqttClient = connect(config.url, {
    // One session for every router: the one holding the intake lease uses it (see
    // intake-leadership.ts), and takes over what the broker kept while no router was in.
    clientId: deps.topics.routerClientId,
    clean: false,
    // mqtt.js calls its debug logger ~10 times per message, even when DEBUG is off.
    log: () => undefined,
    username: config.username,
    password: config.password,
    reconnectPeriod: 1_000,
    connectTimeout: 10_000,
    manualConnect: true,
  });
  const acks = deferAcks(client);
  sendWithoutDelay(client);
  // A held `done` belongs to the connection that closed: reading resumes on the new one.
  client.on('close', () => (resumeReading = null));
  client.on('error', (err) => log.warn({ err: err.message }, 'mqtt intake error'));
  client.on('offline', () => log.warn('mqtt broker unreachable from intake; reconnecting'));

  let closing = false;
  const inHand = new Set<Promise<void>>();
  const byKey = new Map<string, TakenEvent>();
  let resumeReading: (() => void) | null = null;

  const persist: Persist = async (step) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await step();
      } catch (err) {
        // Not acknowledged while we cannot store it: the broker keeps it until we can.
        if (closing) throw err;
        log.warn({ err, attempt }, 'cannot store mqtt event yet; retrying');
        await sleep(Math.min(200 * attempt, 5_000));
      }
    }
  };

  const report = (topic: string, result: MqttIntakeResult) => {
    options.observe?.(result.accepted ? 'accepted' : result.code);
    if (result.accepted) log.debug({ eventId: result.id, topic }, 'mqtt event accepted');
    else log.warn({ topic, code: result.code, reason: result.reason }, 'mqtt event rejected');
  };

  client.handleMessage = (packet: IPublishPacket, done) => {
    // A stopping intake reads no further: without a PUBACK, the broker keeps the event.
    if (closing) return;
    // mqtt.js's callback sends the PUBACK on whatever connection is current when it is called:
    // one held over from a connection that has closed must never be called.
    const connection = acks.connection;
    const readNext = () => {
      if (acks.connection !== connection) return;
      if (inHand.size < maxInHand) done();
      else resumeReading = () => done();
    };
    const ack = acks.hold(packet);
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const messageId = packet.qos > 0 ? packet.messageId : undefined;
    const key = messageId === undefined ? undefined : deliveryKey(packet.topic, messageId, payload);
    // The same message sent again after a reconnect while its first delivery is still in hand
    // here: it settles with the first, which stores (and publishes) it once.
    const first = key === undefined ? undefined : byKey.get(key);
    const taken = first ?? takeMqttEvent(deps, { topic: packet.topic, payload, messageId, key }, persist);
    if (key !== undefined && !first) {
      byKey.set(key, taken);
      void taken.result.finally(() => byKey.delete(key)).catch(() => undefined);
    }
    const settled = taken.result.then(
      (result) => {
        if (!first) report(packet.topic, result);
        ack.settle();
      },
      (err: unknown) => {
        if (closing) return;
        // A bug, not an outage (those are retried): one event must not stall the intake.
        options.observe?.('error');
        log.error({ err, topic: packet.topic }, 'mqtt event dropped after an unexpected error');
        ack.settle();
      },
    );
    const tracked = settled.finally(() => {
      inHand.delete(tracked);
      if (resumeReading && inHand.size < maxInHand) {
        const resume = resumeReading;
        resumeReading = null;
        resume();
      }
    });
    inHand.add(tracked);
    readNext();
  };

  await new Promise<void>((resolve, reject) => {
    const fail = (err: Error) => {
      client.removeListener('connect', succeed);
      client.end(true);
      reject(err);
    };
    const succeed = () => {
      client.removeListener('error', fail);
      resolve();
    };
    client.once('connect', succeed);
    client.once('error', fail);
    client.connect();
  });
  await client.subscribeAsync(deps.topics.notifyWildcard, { qos: 1 });

  return {
    async close() {
      // No unsubscribe: the persistent session must keep collecting events while we are down.
      closing = true;
      // Reconnecting now would take the session back from the router that holds the lease next.
      client.options.reconnectPeriod = 0;
      const drained = Promise.allSettled([...inHand]);
      await Promise.race([drained, sleep(DRAIN_MS, undefined, { ref: false })]);
      await client.endAsync();
    },
  };
}
