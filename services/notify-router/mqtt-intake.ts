import { setTimeout as sleep } from 'node:timers/promises';
import { connectAsync, type IPublishPacket, type MqttClient } from 'mqtt';
import type { MqttClientConfig } from '../../shared/config/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { acceptMqttEvent, type MqttIntakeDeps } from './accept-mqtt-event.js';

export interface MqttIntake {
  close(): Promise<void>;
}

/**
 * Takes producers' events from `<root>/+/notify/#` on a connection of its own. It holds a
 * persistent session (clean: false), so QoS 1 events published while the router restarts wait
 * in the broker, and acknowledges each event only once it is stored. While the database or
 * Redis is down it keeps retrying the event in hand; the broker holds the rest. The router's
 * realtime publishes use another connection, so this wait never stalls them.
 */
export async function startMqttIntake(
  config: MqttClientConfig & { url: string },
  deps: MqttIntakeDeps & { observe?: (result: string) => void },
  log: Logger,
): Promise<MqttIntake> {
  const client: MqttClient = await connectAsync(config.url, {
    // One session for every router: the one holding the intake lease uses it (see
    // intake-leadership.ts), and takes over what the broker kept while no router was in.
    clientId: deps.topics.routerClientId,
    clean: false,
    username: config.username,
    password: config.password,
    reconnectPeriod: 1_000,
    connectTimeout: 10_000,
  });
  client.on('error', (err) => log.warn({ err: err.message }, 'mqtt intake error'));
  client.on('offline', () => log.warn('mqtt broker unreachable from intake; reconnecting'));

  let closing = false;
  client.handleMessage = (packet: IPublishPacket, done) => {
    void take(packet).then(() => done(), (err: unknown) => done(err as Error));
  };
  async function take(packet: IPublishPacket): Promise<void> {
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await acceptMqttEvent(deps, packet.topic, payload, packet.qos > 0 ? packet.messageId : undefined);
        deps.observe?.(result.accepted ? 'accepted' : result.code);
        if (result.accepted) log.debug({ eventId: result.id, topic: packet.topic }, 'mqtt event accepted');
        else log.warn({ topic: packet.topic, code: result.code, reason: result.reason }, 'mqtt event rejected');
        return;
      } catch (err) {
        // Not acknowledged while we cannot store it: the broker keeps it until we can.
        if (closing) throw err;
        log.warn({ err, topic: packet.topic, attempt }, 'cannot store mqtt event yet; retrying');
        await sleep(Math.min(200 * attempt, 5_000));
      }
    }
  }
  await client.subscribeAsync(deps.topics.notifyWildcard, { qos: 1 });

  return {
    async close() {
      // No unsubscribe: the persistent session must keep collecting events while we are down.
      closing = true;
      await client.endAsync();
    },
  };
}
