import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnrecoverableError, Worker } from 'bullmq';
import { connectAsync, type IPublishPacket } from 'mqtt';
import type { DataSource } from 'typeorm';
import type { MqttClientConfig, RedisConfig } from '../../shared/config/index.js';
import { createNotificationStore } from '../../shared/database/index.js';
import { createDeliveryStatus } from '../../shared/delivery-status/index.js';
import { routeJobSchema } from '../../shared/events/index.js';
import type { Service } from '../../shared/lifecycle/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { connectRedis, createPushQueue, createRouteQueue } from '../../shared/queue/index.js';
import { createTopics, QUEUE_NAMES } from '../../shared/topics/index.js';
import { acceptMqttEvent } from './accept-mqtt-event.js';
import { createMqttPublisher } from './realtime-publisher.js';
import { routeEvent } from './route-event.js';

export interface NotifyRouterDeps {
  mqtt: MqttClientConfig & { url: string };
  redis: RedisConfig & { url: string };
  pushAttempts: number;
  dataSource: DataSource;
  log: Logger;
}

const ROUTE_CONCURRENCY = 8;

/**
 * Starts the router: an MQTT client of the broker that takes producers' events from
 * `<root>/+/notify/#`, and a BullMQ worker that routes accepted events (from MQTT or HTTP)
 * to dashboards and to the push queue.
 */
export async function startNotifyRouter(deps: NotifyRouterDeps): Promise<Service> {
  const log = deps.log.child({ part: 'notify-router' });
  const topics = createTopics(deps.mqtt.topicRoot);
  const producer = connectRedis(deps.redis.url, { log, role: 'router-producer' });
  const workerRedis = connectRedis(deps.redis.url, { log, role: 'router-worker' });
  const prefix = deps.redis.queuePrefix;
  const routeQueue = createRouteQueue({ connection: producer, prefix, log });
  const pushQueue = createPushQueue({ connection: producer, prefix, log, pushAttempts: deps.pushAttempts });
  const notifications = createNotificationStore(deps.dataSource);

  // A persistent session (clean: false) keeps QoS 1 events that producers publish while this
  // router is restarting; they arrive when it reconnects.
  const client = await connectAsync(deps.mqtt.url, {
    clientId: `axion-notify-router-${hostname()}`.slice(0, 64),
    clean: false,
    username: deps.mqtt.username,
    password: deps.mqtt.password,
    reconnectPeriod: 1_000,
    connectTimeout: 10_000,
  });
  client.on('error', (err) => log.warn({ err: err.message }, 'mqtt client error'));
  client.on('offline', () => log.warn('mqtt broker unreachable; reconnecting'));

  let closing = false;
  const intakeDeps = { topics, notifications, routeQueue, log };
  // Acknowledge an event only once it is durable: until then the broker keeps it.
  client.handleMessage = (packet: IPublishPacket, done) => {
    void takeEvent(packet).then(() => done(), (err: unknown) => done(err as Error));
  };
  async function takeEvent(packet: IPublishPacket): Promise<void> {
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await acceptMqttEvent(intakeDeps, packet.topic, payload);
        if (result.accepted) log.debug({ eventId: result.id, topic: packet.topic }, 'mqtt event accepted');
        else log.warn({ topic: packet.topic, code: result.code, reason: result.reason }, 'mqtt event rejected');
        return;
      } catch (err) {
        // Database or Redis down: hold this event (and, by MQTT ordering, the ones after it)
        // until they are back, rather than acknowledging something we did not store.
        if (closing) throw err;
        log.warn({ err, topic: packet.topic, attempt }, 'cannot store mqtt event yet; retrying');
        await sleep(Math.min(200 * attempt, 5_000));
      }
    }
  }
  await client.subscribeAsync(topics.notifyWildcard, { qos: 1 });

  const routeDeps = {
    realtime: createMqttPublisher(client),
    pushQueue,
    status: createDeliveryStatus(producer, prefix),
    topics,
    log,
  };
  const worker = new Worker(
    QUEUE_NAMES.route,
    async (job) => {
      const parsed = routeJobSchema.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`malformed route job: ${parsed.error.message}`);
      return routeEvent(routeDeps, parsed.data);
    },
    { connection: workerRedis, prefix, concurrency: ROUTE_CONCURRENCY },
  );
  worker.on('error', (err) => log.warn({ err: err.message }, 'route worker error'));
  worker.on('failed', (job, err) =>
    log.warn({ jobId: job?.id, attempts: job?.attemptsMade, err: err.message }, 'route attempt failed'),
  );
  log.info({ url: deps.mqtt.url, topic: topics.notifyWildcard }, 'notify-router started');

  return {
    name: 'notify-router',
    async close() {
      // No unsubscribe: the persistent session must keep collecting events while we are down.
      closing = true;
      await worker.close();
      await routeQueue.close();
      await pushQueue.close();
      await client.endAsync();
      await Promise.all([producer.quit(), workerRedis.quit()]).catch(() => undefined);
    },
  };
}
