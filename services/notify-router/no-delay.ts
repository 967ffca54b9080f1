import type { Socket } from 'node:net';
import type { MqttClient } from 'mqtt';

/**
 * Turns Nagle's algorithm off on the client's socket now and at every reconnect: mqtt.js leaves it
 * on, and a small publish held back until the previous one is acknowledged costs up to tens
 * of milliseconds on an otherwise idle connection (docs/performance.md, bench:realtime).
 */
export function sendWithoutDelay(client: MqttClient): void {
  const noDelay = () => (client.stream as Partial<Socket> | undefined)?.setNoDelay?.(true);
  noDelay();
  client.on('connect', noDelay);
}
