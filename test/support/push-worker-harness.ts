import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { startPushWorker } from '../../services/push-worker/start-push-worker.js';
import type { PushConfig } from '../../shared/config/index.js';
import {
  createSubscriptionStore,
  createVapidKeyStore,
  type SubscriptionStore,
  type SubscriptionView,
} from '../../shared/database/index.js';
import { createDeliveryStatus, type DeliveryCounts } from '../../shared/delivery-status/index.js';
import { PushSubscriptionEntity } from '../../shared/entities/index.js';
import { messageFor, type Message, type PushJob } from '../../shared/events/index.js';
import type { Service } from '../../shared/lifecycle/index.js';
import { createPushQueue, type PushQueue } from '../../shared/queue/index.js';
import { QUEUE_NAMES } from '../../shared/topics/index.js';
import { LocalPushService, type PushAnswer } from './local-push-service.js';
import { obliterateQueues } from './queues.js';
import { testLogger } from './silent-logger.js';
import { TEST_REDIS_URL } from './test-databases.js';
import { createBrowserKeys, type BrowserKeys } from './web-push-receiver.js';

export const HARNESS_PACKAGE = 'outcomes';

/** The push-worker settings of these tests: loopback allowed, short deadlines. */
export function testPushConfig(overrides: Partial<PushConfig> = {}): PushConfig {
  return {
    vapidSubject: 'mailto:ops@example.com',
    endpointPolicy: { allowedHosts: [], allowInsecureLoopback: true },
    concurrency: 8,
    timeoutMs: 500,
    maxAttempts: 8,
    jobLockMs: 5_000,
    staleAfterDays: 60,
    ...overrides,
  };
}

export type PushOptions = Partial<Pick<PushJob, 'eventId' | 'ttl' | 'urgency' | 'topic'>>;

export interface StoredBrowser {
  user: string;
  path: string;
  endpoint: string;
  keys: BrowserKeys;
}

/**
 * A queued push job as one endpoint must receive it: the job, the user the endpoint belongs to,
 * and that user's Message (the job's template plus `user`), which the endpoint must decrypt to.
 */
export type EndpointJob = Omit<PushJob, 'message'> & { user: string; message: Message };

/**
 * One real push-worker on its own queue prefix, with helpers to store subscriptions, queue push
 * jobs and read outcomes. `close()` stops it and removes everything it made.
 */
export class PushWorkerHarness {
  readonly prefix = `test-${randomUUID()}`;
  readonly services: LocalPushService[] = [];
  /** The jobs each endpoint URL was sent, with its user's Message, to check what the push services decrypted. */
  readonly jobsByEndpoint = new Map<string, EndpointJob[]>();
  readonly store: SubscriptionStore;
  private readonly users = new Set<string>();
  private worker: Service | undefined;
  /** More workers on the same queue (`startAnotherWorker`). */
  private readonly others: Service[] = [];
  private queue: PushQueue | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly redis: Redis,
    readonly config: PushConfig,
  ) {
    this.store = createSubscriptionStore(dataSource);
  }

  async start(): Promise<this> {
    this.worker = await this.startWorker();
    // As the notify-router builds it: attempts from PUSH_MAX_ATTEMPTS.
    this.queue = createPushQueue({
      connection: this.redis,
      log: testLogger(),
      prefix: this.prefix,
      pushAttempts: this.config.maxAttempts,
    });
    return this;
  }

  /** A second worker process's worth: another worker on the same queue, closed with the harness. */
  async startAnotherWorker(): Promise<void> {
    this.others.push(await this.startWorker());
  }

  private startWorker(): Promise<Service> {
    return startPushWorker({
      push: this.config,
      redis: { url: TEST_REDIS_URL, queuePrefix: this.prefix },
      dataSource: this.dataSource,
      log: testLogger(),
    });
  }

  /** Jobs of the push queue that a worker holds (active) and that wait for one. */
  async jobCounts(): Promise<{ active: number; waiting: number }> {
    const queue = new Queue(QUEUE_NAMES.push, { connection: this.redis, prefix: this.prefix });
    try {
      const { active = 0, waiting = 0 } = await queue.getJobCounts('active', 'waiting');
      return { active, waiting };
    } finally {
      await queue.close();
    }
  }

  async pushService(): Promise<LocalPushService> {
    const service = await new LocalPushService({ http2: this.config.http2 === 'always' }).start();
    this.services.push(service);
    return service;
  }

  newUser(): string {
    const user = `u-${randomUUID().slice(0, 12)}`;
    this.users.add(user);
    return user;
  }

  /** Stores a browser subscription of `user` at `path` on `service`, answered with `answers`. */
  async subscribe(user: string, service: LocalPushService, path: string, ...answers: PushAnswer[]): Promise<StoredBrowser> {
    this.users.add(user);
    const vapid = await createVapidKeyStore(this.dataSource).current(HARNESS_PACKAGE);
    const keys = createBrowserKeys();
    const endpoint = service.script(path, ...answers);
    service.registerBrowser(path, { keys, applicationServerKey: vapid.publicKey });
    await this.store.upsert({
      user, package: HARNESS_PACKAGE, endpoint, p256dh: keys.p256dh, auth: keys.auth,
      module: null, userAgent: 'Mozilla/5.0 (test)', expirationTime: null, vapidKeyId: vapid.id,
    });
    return { user, path, endpoint, keys };
  }

  /** Queues one push job for `user`, as the notify-router would. */
  push(user: string, options: PushOptions = {}): Promise<PushJob> {
    return this.pushMany([user], options);
  }

  /** Queues one push job for several users (at most MAX_USERS_PER_PUSH_JOB), as the notify-router would. */
  async pushMany(users: readonly string[], options: PushOptions = {}): Promise<PushJob> {
    const eventId = options.eventId ?? `evt-${randomUUID()}`;
    const ttl = options.ttl ?? 600;
    const job: PushJob = {
      eventId, package: HARNESS_PACKAGE, users: [...users],
      // The Message without its `user`, as the router puts it in the job.
      message: {
        id: eventId, package: HARNESS_PACKAGE, title: 'Invoice paid', body: 'ACME paid invoice 42',
        url: '/invoices/42', data: { invoice: 42 }, createdAt: new Date().toISOString(),
      },
      ttl, urgency: options.urgency ?? 'normal', expiresAt: Date.now() + ttl * 1000,
      ...(options.topic ? { topic: options.topic } : {}),
    };
    for (const row of await this.store.listActive(HARNESS_PACKAGE, users)) {
      const sent: EndpointJob = { ...job, user: row.user, message: messageFor(job.message, row.user) };
      this.jobsByEndpoint.set(row.endpoint, [...(this.jobsByEndpoint.get(row.endpoint) ?? []), sent]);
    }
    await this.queue!.addBulk([job]);
    return job;
  }

  status(eventId: string): Promise<DeliveryCounts> {
    return createDeliveryStatus(this.redis, this.prefix).get(eventId);
  }

  async row(browser: StoredBrowser): Promise<SubscriptionView> {
    const rows = await this.store.list(browser.user, HARNESS_PACKAGE);
    const row = rows.find((r) => r.endpoint === browser.endpoint);
    if (!row) throw new Error(`no subscription row for ${browser.endpoint}`);
    return row;
  }

  /** Stops the worker and removes its queue, Redis keys, rows and push services; runs every step. */
  async close(): Promise<void> {
    const steps: (() => Promise<unknown>)[] = [
      async () => Promise.all([this.worker, ...this.others].map((w) => w?.close())),
      async () => this.queue?.close(),
      // The queues, and the delivery counters and settled ledgers beside them under the prefix.
      async () => obliterateQueues(this.redis, this.prefix),
      async () => {
        const repo = this.dataSource.getRepository(PushSubscriptionEntity);
        for (const user of this.users) await repo.delete({ user });
      },
      ...this.services.map((s) => () => s.close()),
    ];
    const failures: unknown[] = [];
    for (const step of steps) await step().catch((err: unknown) => failures.push(err));
    if (failures.length > 0) throw new AggregateError(failures, 'push-worker harness clean-up failed');
  }
}

/** Polls `read` until `done` holds for its value; fails with the last value after `timeoutMs`. */
export async function eventually<T>(read: () => Promise<T> | T, done: (value: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`still not done after ${timeoutMs} ms: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
