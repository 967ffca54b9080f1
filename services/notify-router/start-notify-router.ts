import { randomUUID } from 'node:crypto';
import { UnrecoverableError, Worker } from 'bullmq';
import type { DataSource } from 'typeorm';
import { redactUrl, type MqttClientConfig, type RedisConfig } from '../../shared/config/index.js';
import {
  createGroupStore,
  createInboxStore,
  createNotificationRetentionStore,
  createNotificationStore,
  createSubscriptionStore,
} from '../../shared/database/index.js';
import { createDeliveryStatus } from '../../shared/delivery-status/index.js';
import { createPresenceReader } from '../../shared/presence/index.js';
import { routeJobSchema } from '../../shared/events/index.js';
import { brokerCheck, databaseCheck, redisCheck, type ReadinessCheck } from '../../shared/health/index.js';
import type { Service } from '../../shared/lifecycle/index.js';
import {
  countJobOutcomes,
  createIntakeMetrics,
  queueDepthSource,
  registerQueueDepth,
  type MetricsRegistry,
} from '../../shared/metrics/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { connectRedis, createPushQueue, createRouteQueue, openQueue } from '../../shared/queue/index.js';
import { createTopics, QUEUE_NAMES } from '../../shared/topics/index.js';
import { createRedeliveryIds } from './accept-mqtt-event.js';
import { createEventRecorder } from './event-recorder.js';
import { startReminderWorker } from './fire-reminder.js';
import { createInboxWriter } from './inbox-writer.js';
import { startInboxWorker } from './inbox-worker.js';
import { startLeadership } from './intake-leadership.js';
import { startMqttIntake, type MqttIntake } from './mqtt-intake.js';
import { startMqttPublisher } from './realtime-publisher.js';
import { createTargetResolver } from './resolve-target.js';
import { routeEvent } from './route-event.js';

export interface NotifyRouterDeps {
  mqtt: MqttClientConfig & { url: string };
  redis: RedisConfig & { url: string };
  pushAttempts: number;
  dataSource: DataSource;
  log: Logger;
  /** Where rejected and accepted MQTT events are counted. */
  metrics?: MetricsRegistry;
  /**
   * `INBOX_SEEN_RETENTION_DAYS`, `NOTIFICATION_RETENTION_DAYS` (unset or 0: notifications are
   * kept), how often the purge runs (tests: seconds; else hourly), and `INBOX_UNSEEN_WINDOW_MS`
   * (unset: 250 ms).
   */
  inbox: {
    seenRetentionDays: number;
    notificationRetentionDays?: number;
    purgeEveryMs?: number;
    unseenWindowMs?: number;
  };
}

export interface NotifyRouter extends Service {
  /** What routing needs: the database, Redis and the broker it publishes to. */
  readiness: ReadinessCheck[];
  /**
   * The router's connection to the broker (also in `readiness`): the all-in-one's `/readyz`
   * checks the broker, embedded or external, through it.
   */
  brokerCheck: ReadinessCheck;
}

const ROUTE_CONCURRENCY = 8;
/**
 * How soon the route jobs of a router that died are taken up by another (BullMQ lock and
 * stalled-check interval). Routing one job takes milliseconds and the lock is renewed at half
 * of this while it runs, so a short lock costs only a cheap check every 10 s; BullMQ's default
 * of 30 s left a killed router's events waiting up to a minute.
 */
const ROUTE_JOB_LOCK_MS = 10_000;

/**
 * Starts the router: an MQTT client of the broker that takes producers' events from
 * `<root>/+/notify/#`, a BullMQ worker that routes accepted events (from MQTT or HTTP) to
 * dashboards, inboxes and the push queue, and the workers of reminders and inbox upkeep.
 */
export async function startNotifyRouter(deps: NotifyRouterDeps): Promise<NotifyRouter> {
  const log = deps.log.child({ part: 'notify-router' });
  const topics = createTopics(deps.mqtt.topicRoot);
  const producer = connectRedis(deps.redis.url, { log, role: 'router-producer' });
  const workerRedis = connectRedis(deps.redis.url, { log, role: 'router-worker' });
  const prefix = deps.redis.queuePrefix;
  const routeQueue = createRouteQueue({ connection: producer, prefix, log });
  const pushQueue = createPushQueue({ connection: producer, prefix, log, pushAttempts: deps.pushAttempts });
  const notifications = createNotificationStore(deps.dataSource);
  // The depth of the queues this router takes jobs from, beside its job outcomes.
  const counted = deps.metrics
    ? [QUEUE_NAMES.route, QUEUE_NAMES.reminders, QUEUE_NAMES.inbox].map((name) => openQueue(name, { connection: producer, prefix, log }))
    : [];
  if (deps.metrics) registerQueueDepth(deps.metrics, counted.map(queueDepthSource));

  const status = createDeliveryStatus(producer, prefix);
  const realtime = await startMqttPublisher(deps.mqtt, log);
  const inboxStore = createInboxStore(deps.dataSource);
  const inbox = createInboxWriter({ inbox: inboxStore, realtime, topics, unseenWindowMs: deps.inbox.unseenWindowMs });
  const intakeMetrics = deps.metrics && createIntakeMetrics(deps.metrics);
  const intakeDeps = {
    topics,
    notifications,
    routeQueue,
    realtime,
    recorder: createEventRecorder({ notifications, routeQueue, status, inbox, log }),
    log,
    redeliveries: createRedeliveryIds(producer, prefix),
  };
  const observe = (result: string) => intakeMetrics?.observeEvent('mqtt', result);
  let intake: MqttIntake | null = null;
  const leadership = startLeadership({
    redis: producer,
    key: `${prefix}:mqtt-intake-lease`,
    holder: randomUUID(),
    leaseMs: deps.mqtt.intakeLeaseMs ?? 10_000,
    log,
    onGain: async () => {
      intake = await startMqttIntake(deps.mqtt, intakeDeps, log, { observe });
    },
    onLose: async () => {
      await intake?.close();
      intake = null;
    },
  });
  // A router that wins the lease at start is taking events before it reports itself started.
  await leadership.ready;

  const routeDeps = {
    realtime,
    inbox,
    presence: createPresenceReader(producer, prefix),
    resolveTarget: createTargetResolver(createGroupStore(deps.dataSource)),
    pushQueue,
    status,
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
    {
      connection: workerRedis,
      prefix,
      concurrency: ROUTE_CONCURRENCY,
      lockDuration: ROUTE_JOB_LOCK_MS,
      stalledInterval: ROUTE_JOB_LOCK_MS,
    },
  );
  worker.on('error', (err) => log.warn({ err: err.message }, 'route worker error'));
  if (deps.metrics) countJobOutcomes(deps.metrics, worker);
  worker.on('failed', (job, err) =>
    log.warn({ jobId: job?.id, attempts: job?.attemptsMade, err: err.message }, 'route attempt failed'),
  );
  const reminderWorker = startReminderWorker({
    connection: workerRedis,
    producer,
    prefix,
    subscriptions: createSubscriptionStore(deps.dataSource),
    pushQueue,
    log,
    metrics: deps.metrics,
  });
  const inboxWorker = await startInboxWorker({
    connection: workerRedis,
    producer,
    prefix,
    inbox: inboxStore,
    writer: inbox,
    seenRetentionDays: deps.inbox.seenRetentionDays,
    notificationRetention: {
      days: deps.inbox.notificationRetentionDays ?? 0,
      notifications: createNotificationRetentionStore(deps.dataSource),
      routeQueue,
      status,
    },
    purgeEveryMs: deps.inbox.purgeEveryMs,
    log,
    metrics: deps.metrics,
  });
  log.info({ url: redactUrl(deps.mqtt.url), topic: topics.notifyWildcard }, 'notify-router started');

  const broker = brokerCheck(() => realtime.connected(), 'the MQTT connection is down');
  return {
    name: 'notify-router',
    readiness: [databaseCheck(deps.dataSource), redisCheck(producer), broker],
    brokerCheck: broker,
    async close() {
      await leadership.close();
      await worker.close();
      await reminderWorker.close();
      await inboxWorker.close();
      await inbox.close();
      await realtime.close();
      await routeQueue.close();
      await pushQueue.close();
      await Promise.allSettled(counted.map((queue) => queue.close()));
      await Promise.all([producer.quit(), workerRedis.quit()]).catch(() => undefined);
    },
  };
}
