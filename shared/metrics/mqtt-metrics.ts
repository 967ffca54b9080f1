import { Gauge } from 'prom-client';
import type { MetricsRegistry } from './create-metrics-registry.js';

/** Adds `axion_push_mqtt_clients_connected`, read from the broker at scrape time. */
export function registerMqttClients(registry: MetricsRegistry, connectedClients: () => number): void {
  new Gauge({
    name: 'axion_push_mqtt_clients_connected',
    help: 'MQTT clients connected to this broker instance (dashboards, producers, routers).',
    registers: [registry],
    collect() {
      this.set(connectedClients());
    },
  });
}
