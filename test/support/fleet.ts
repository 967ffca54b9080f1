import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { obliterateQueues } from './queues.js';
import { ServiceProcess } from './service-process.js';
import { TEST_REDIS_URL, type TestDatabase } from './test-databases.js';
import { TEST_JWT_SECRET } from './tokens.js';

/** The entry point a service runs from, as in its container. */
export const distMain = (service: string) => join(process.cwd(), 'dist', 'services', service, 'main.js');

/**
 * The services and clients one e2e test starts, on its own queue prefix, and their clean-up:
 * clients first, then processes in reverse start order, then the database and the queues.
 */
export class Fleet {
  readonly processes: ServiceProcess[] = [];
  readonly clients: MqttClient[] = [];
  readonly prefix = `e2e${randomUUID().slice(0, 8)}`;
  database: TestDatabase | undefined;

  start(service: string, env: Record<string, string | undefined>): ServiceProcess {
    const started = new ServiceProcess(distMain(service), env);
    this.processes.push(started);
    return started;
  }

  keep<T extends MqttClient>(client: T): T {
    this.clients.push(client);
    return client;
  }

  /**
   * Settings for services started apart: this fleet's database and queue prefix, a producer key
   * (`producer`) for package crm and a router key (`router`), listeners on loopback port 0.
   */
  env(keys: { producer: string; router: string }, extra: Record<string, string> = {}): Record<string, string> {
    if (!this.database) throw new Error('create fleet.database first');
    return {
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      API_KEYS: `producer:${keys.producer}:crm,router:${keys.router}:*:router`,
      DATABASE_URL: this.database.config.url,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: this.prefix,
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: '0',
      MQTT_WS_PORT: '0',
      ...extra,
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.endAsync(true)));
    for (const p of [...this.processes].reverse()) await p.stop();
    await this.database?.drop();
    await obliterateQueues(TEST_REDIS_URL, this.prefix);
  }
}
