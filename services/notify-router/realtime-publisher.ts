import type { MqttClient } from 'mqtt';

/** Publishes Messages to dashboards. */
export interface RealtimePublisher {
  /** Resolves once the broker has acknowledged the QoS 1 publish. */
  publish(topic: string, payload: string): Promise<void>;
}

export function createMqttPublisher(client: MqttClient): RealtimePublisher {
  return {
    publish: async (topic, payload) => {
      await client.publishAsync(topic, payload, { qos: 1 });
    },
  };
}
