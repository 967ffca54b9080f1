import { connectAsync, type MqttClient } from 'mqtt';
import type { MqttClientConfig } from '../../shared/config/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { sendWithoutDelay } from './no-delay.js';

/** Publishes Messages to dashboards. */
export interface RealtimePublisher {
  /** Resolves once the broker has acknowledged the QoS 1 publish; rejects after a deadline. */
  publish(topic: string, payload: string): Promise<void>;
  /** Whether the connection to the broker is up now (readiness). */
  connected(): boolean;
  close(): Promise<void>;
}

/** A route job waiting on a broker that is away fails and is retried, rather than hanging. */
const PUBLISH_TIMEOUT_MS = 10_000;

/** The router's publishing connection (clean session: it only sends). */
export async function startMqttPublisher(
  config: MqttClientConfig & { url: string },
  log: Logger,
): Promise<RealtimePublisher> {
  const client: MqttClient = await connectAsync(config.url, {
    clean: true,
    // mqtt.js calls its debug logger ~10 times per message, even when DEBUG is off.
    log: () => undefined,
    username: config.username,
    password: config.password,
    reconnectPeriod: 1_000,
    connectTimeout: 10_000,
  });
  sendWithoutDelay(client);
  client.on('error', (err) => log.warn({ err: err.message }, 'mqtt publisher error'));
  return {
    publish(topic, payload) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('broker did not acknowledge in time')), PUBLISH_TIMEOUT_MS);
        client.publish(topic, payload, { qos: 1 }, (err) => {
          clearTimeout(timer);
          if (err) reject(err);
          else resolve();
        });
      });
    },
    connected: () => client.connected,
    close: () => client.endAsync(),
  };
}
