import { randomBytes } from 'node:crypto';
import { createSubscriptionStore, createVapidKeyStore, startDatabase } from '../../../shared/database/index.js';
import { distMain } from '../../support/fleet.js';
import { freePort } from '../../support/free-port.js';
import { PrivateMariadbServer } from '../../support/private-mariadb-server.js';
import { PrivateRedisServer } from '../../support/private-redis-server.js';
import { ServiceProcess } from '../../support/service-process.js';
import { testLogger } from '../../support/silent-logger.js';
import { TEST_JWT_SECRET } from '../../support/tokens.js';
import { createBrowserKeys, type BrowserKeys } from '../../support/web-push-receiver.js';
import { Dashboards } from './dashboards.js';
import { Producer } from './producer.js';
import { startPushOrigins, type PushOrigin } from './push-origins.js';

export type ServiceName = 'broker' | 'subscription-api' | 'notify-router' | 'push-worker';

/** The log line each service writes once it is ready. */
const READY: Record<ServiceName, string> = {
  broker: 'mqtt broker listening',
  'subscription-api': 'http api listening',
  'notify-router': 'notify-router started',
  'push-worker': 'push-worker started',
};

export interface RigSizes {
  users: number;
  subscriptionsPerUser: number;
  /** The first `dashboards` users also have a dashboard open. */
  dashboards: number;
  /** Push services (origins); a user's subscriptions are spread over them. */
  origins: number;
  pushConcurrency: number;
}

/** A browser's push subscription: which push service holds it, and its keys. */
export interface Device {
  user: string;
  origin: PushOrigin;
  path: string;
  keys: BrowserKeys;
}

export const PKG = 'faults';
const PRODUCER_KEY = `producer-${randomBytes(12).toString('hex')}`;
const ROUTER_KEY = `router-${randomBytes(12).toString('hex')}`;

/**
 * The whole system as docker-compose runs it, on dependencies of its own that a test may kill:
 * the four services as separate processes on a private Redis (AOF, fsync always) and a private
 * MariaDB, fixed ports (a restarted service comes back where its clients look for it), push
 * services on several origins, dashboards with persistent sessions and a producer.
 */
export class FaultRig {
  readonly redis = new PrivateRedisServer();
  readonly mariadb = new PrivateMariadbServer();
  readonly services = new Map<ServiceName, ServiceProcess>();
  /** Every process started, killed ones included, for clean-up. */
  private readonly started: ServiceProcess[] = [];
  /**
   * Services that exited on their own (not killed by a test, not stopped by `close`) and that the
   * rig started again, as docker-compose's `restart: unless-stopped` does: `pid` of the process
   * that exited, `code` its exit code (null: a signal).
   */
  readonly restarts: { name: ServiceName; pid: number | undefined; code: number | null }[] = [];
  /** Processes a test killed on purpose, or every one once `close` began: not restarted. */
  private readonly stopped = new Set<ServiceProcess>();
  private closing = false;
  readonly devices = new Map<string, Device[]>();
  readonly users: string[];
  readonly runId = randomBytes(4).toString('hex');
  origins: PushOrigin[] = [];
  dashboards!: Dashboards;
  producer!: Producer;
  env: Record<string, string> = {};
  httpBase = '';
  mqttUrl = '';

  constructor(
    readonly sizes: RigSizes,
    private readonly extraEnv: Record<string, string> = {},
  ) {
    this.users = Array.from({ length: sizes.users }, (_, i) => `u${String(i).padStart(5, '0')}`);
  }

  async start(): Promise<this> {
    const [, , origins, httpPort, mqttPort] = await Promise.all([
      this.redis.start(),
      this.mariadb.start(),
      startPushOrigins(this.sizes.origins),
      freePort(),
      freePort(),
    ]);
    this.origins = origins;
    const databaseUrl = await this.mariadb.createDatabase('axion_faults');
    await this.subscribeDevices(databaseUrl);
    this.httpBase = `http://127.0.0.1:${httpPort}`;
    this.mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
    this.env = {
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      API_KEYS: `producer:${PRODUCER_KEY}:${PKG},router:${ROUTER_KEY}:*:router`,
      DATABASE_URL: databaseUrl,
      REDIS_URL: this.redis.url,
      HTTP_HOST: '127.0.0.1', HTTP_PORT: String(httpPort),
      MQTT_HOST: '127.0.0.1', MQTT_PORT: String(mqttPort), MQTT_WS_PORT: '0',
      MQTT_URL: this.mqttUrl, MQTT_USERNAME: 'router', MQTT_PASSWORD: ROUTER_KEY,
      // Every dashboard and its reconnects come from 127.0.0.1.
      MQTT_CONNECTS_PER_ADDRESS_PER_MINUTE: '100000',
      // One producer key sends the whole stream (300 events/s); rate limits are not under test.
      RATE_LIMIT_SERVICE_PER_MINUTE: '0',
      MQTT_INTAKE_LEASE_MS: '3000',
      PUSH_ALLOW_INSECURE_LOOPBACK: 'true',
      VAPID_SUBJECT: 'mailto:ops@axion-push.example',
      PUSH_CONCURRENCY: String(this.sizes.pushConcurrency),
      PUSH_JOB_LOCK_MS: '3000',
      LOG_LEVEL: 'info',
      ...this.extraEnv,
    };
    await this.startService('broker');
    await Promise.all([
      this.startService('subscription-api'),
      this.startService('notify-router'),
      this.startService('push-worker'),
    ]);
    this.dashboards = new Dashboards(this.mqttUrl, PKG);
    await this.dashboards.connect(this.users.slice(0, this.sizes.dashboards), this.runId);
    this.producer = new Producer({
      httpBase: this.httpBase, mqttUrl: this.mqttUrl, key: PRODUCER_KEY, keyName: 'producer', pkg: PKG, runId: this.runId,
    });
    await this.producer.connect();
    return this;
  }

  /**
   * Starts a service (again) and resolves once it is ready. Once ready, a process that exits
   * on its own is started again and recorded in `restarts` (one that never got ready fails here).
   */
  async startService(name: ServiceName): Promise<ServiceProcess> {
    const proc = new ServiceProcess(distMain(name), this.env);
    this.started.push(proc);
    this.services.set(name, proc);
    await proc.waitForLog(READY[name], 60_000);
    void proc.exited.then((code) => {
      if (this.closing || this.stopped.has(proc) || this.services.get(name) !== proc) return;
      this.restarts.push({ name, pid: proc.pid, code });
      // A restart that fails leaves the service down: `allRunning` tells.
      this.startService(name).catch(() => undefined);
    });
    return proc;
  }

  /** SIGKILL: no shutdown, no clean-up, as when a container is OOM-killed. */
  async kill(name: ServiceName): Promise<void> {
    const proc = this.services.get(name)!;
    this.stopped.add(proc);
    process.kill(proc.pid!, 'SIGKILL');
    await proc.exited;
  }

  /** Every service running now (one that died may since have been restarted: see `restarts`). */
  get allRunning(): boolean {
    return [...this.services.values()].every((p) => p.running);
  }

  /** The pid of each service's current process. */
  pids(): Record<string, number | undefined> {
    return Object.fromEntries([...this.services].map(([name, proc]) => [name, proc.pid]));
  }

  async close(): Promise<void> {
    this.closing = true;
    const steps = [
      () => this.producer?.close(),
      () => this.dashboards?.close(),
      async () => {
        for (const p of [...this.started].reverse()) await p.stop();
      },
      () => Promise.all(this.origins.map((o) => o.close())),
      () => this.redis.remove(),
      () => this.mariadb.remove(),
    ];
    const failures: unknown[] = [];
    for (const step of steps) await Promise.resolve(step()).catch((err: unknown) => failures.push(err));
    if (failures.length > 0) throw new AggregateError(failures, 'closing the fault rig failed');
  }

  /** Stores every user's subscriptions, spread over the origins, as registered browsers would have. */
  private async subscribeDevices(databaseUrl: string): Promise<void> {
    const database = await startDatabase({ url: databaseUrl }, testLogger());
    try {
      const vapidKey = await createVapidKeyStore(database.dataSource).current(PKG);
      const store = createSubscriptionStore(database.dataSource);
      const all: Device[] = [];
      this.users.forEach((user, u) => {
        const devices = Array.from({ length: this.sizes.subscriptionsPerUser }, (_, j) => ({
          user,
          origin: this.origins[(u + j) % this.origins.length]!,
          path: `/push/${user}/${j}`,
          keys: createBrowserKeys(),
        }));
        this.devices.set(user, devices);
        all.push(...devices);
      });
      for (let i = 0; i < all.length; i += 100) {
        await Promise.all(
          all.slice(i, i + 100).map((d) =>
            store.upsert({
              user: d.user, package: PKG, endpoint: d.origin.endpoint(d.path), p256dh: d.keys.p256dh, auth: d.keys.auth,
              module: null, userAgent: null, expirationTime: null, vapidKeyId: vapidKey.id,
            }),
          ),
        );
      }
    } finally {
      await database.close();
    }
  }
}
