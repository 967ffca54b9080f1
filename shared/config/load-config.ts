import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors/index.js';
import { DEFAULT_PUSH_HOSTS, type EndpointPolicy } from '../push-endpoints/index.js';
import { isValidTopicRoot } from '../topics/index.js';
import { vapidPairProblem } from '../vapid/index.js';
import { parseApiKeys } from './api-keys.js';
import { authSettings, toAuthConfig, type AuthConfig } from './auth-settings.js';
import { httpLimitSettings, toRateLimitSettings, type RateLimitSettings } from './http-limit-settings.js';

/** A listening port and whether the operator chose it (a chosen port never moves). */
export interface PortSetting {
  port: number;
  explicit: boolean;
}

export interface DatabaseConfig {
  /** `mysql://user:pass@host:port/db` or `sqlite:<file>` (relative to the working directory). */
  url: string;
}
export interface RedisConfig {
  /** Unset means: the all-in-one process starts a private redis-server under `dataDir`. */
  url: string | undefined;
  queuePrefix: string;
}
export interface MqttClientConfig {
  url: string | undefined;
  username: string | undefined;
  password: string | undefined;
  topicRoot: string;
  /** How soon another router takes over the MQTT intake from one that died. */
  intakeLeaseMs?: number;
}
export interface BrokerConfig {
  host: string;
  tcp: PortSetting;
  ws: PortSetting;
  limits?: BrokerLimits;
  /**
   * Several broker instances as one: messages pass between them over Redis (mqemitter-redis)
   * and sessions live in Redis (aedes-persistence-redis), so a client may reconnect to any.
   */
  cluster?: boolean;
  /** Messages a persistent session gets at most when it comes back (clustered brokers). */
  maxSessionMessages?: number;
  /**
   * Page origins allowed to log in over WebSocket with the `access_token` cookie; unset: only
   * pages served from this machine (localhost, 127.0.0.1, [::1]).
   */
  cookieOrigins?: readonly string[];
  /**
   * Addresses of reverse proxies in front of the WebSocket listener: a connection from one of
   * them counts against the client address it forwards in `X-Forwarded-For`.
   */
  trustedProxies?: readonly string[];
}
export interface BrokerLimits {
  maxConnectionsPerAddress: number;
  connectsPerAddressPerMinute: number;
  maxPayloadBytes: number;
  maxKeepAliveSeconds: number;
  /** Largest CONNECT packet, read before authentication; unset: 16 KiB. */
  maxConnectBytes?: number;
}
export interface HttpConfig {
  host: string;
  port: PortSetting;
  /** Port of `GET /metrics` for services without an HTTP API (push-worker); unset: none. */
  metricsPort?: number | undefined;
  /**
   * `DEMO_PAGE`: serve the demo page and its demo-only routes. Unset: the service's default
   * (on in the all-in-one, off for a subscription-api started alone).
   */
  demoPage?: boolean | undefined;
  /** Requests per minute per user, API key and address; absent: no limits (tests). */
  rateLimits?: RateLimitSettings | undefined;
  /**
   * `HTTP_TRUSTED_PROXIES`: reverse proxies in front of the API, whose `X-Forwarded-For` names
   * the client address that per-address limits count.
   */
  trustedProxies?: readonly string[] | undefined;
}
export type { AuthConfig } from './auth-settings.js';
export interface PushConfig {
  vapidSubject: string;
  /** `VAPID_PUBLIC_KEY` + `VAPID_PRIVATE_KEY`: the key of every package that has none yet. */
  vapidDefaultKey?: { publicKey: string; privateKey: string } | undefined;
  endpointPolicy: EndpointPolicy;
  concurrency: number;
  timeoutMs: number;
  maxAttempts: number;
  /**
   * How long a worker holds a push job without renewing its lock. A worker that dies holding
   * jobs releases them after this; another worker then resumes them.
   */
  jobLockMs: number;
  /** Subscriptions with no successful push for this many days are deactivated. */
  staleAfterDays: number;
  /**
   * On SIGTERM, how long the worker waits for the jobs it holds to finish their sends before it
   * lets go of them (another worker resumes them; the settled ledger keeps sends single).
   * Unset: 20 s.
   */
  shutdownTimeoutMs?: number;
  /**
   * HTTP/2 to push services. `auto`: when an https push service offers it (TLS ALPN), else
   * HTTP/1.1; plain http:// (loopback, when allowed) always HTTP/1.1. `always`: HTTP/2 only,
   * with prior knowledge on plain http://. `off`: HTTP/1.1 only. Unset: `auto`.
   */
  http2?: Http2Mode;
}

export type Http2Mode = 'auto' | 'always' | 'off';

export interface InboxConfig {
  /** Seen inbox items are purged this many days after they were seen; unseen ones stay. */
  seenRetentionDays: number;
  /** A user's inbox changes within this many milliseconds go out as one unseen count. */
  unseenWindowMs: number;
  /**
   * Notifications are deleted this many days after they were accepted, unless an inbox item
   * still refers to one or its delivery is still pending; 0 keeps them forever.
   */
  notificationRetentionDays: number;
}

/** Every setting, grouped so that each service can be handed only its own slice. */
export interface Config {
  dataDir: string;
  logLevel: string;
  /** `pretty` for a person at a terminal, `json` for machines; unset: pretty only on a TTY. */
  logFormat: 'json' | 'pretty' | undefined;
  database: DatabaseConfig;
  redis: RedisConfig;
  mqtt: MqttClientConfig;
  broker: BrokerConfig;
  http: HttpConfig;
  auth: AuthConfig;
  push: PushConfig;
  inbox: InboxConfig;
}

const port = z
  .string()
  .regex(/^\d{1,5}$/, 'must be a port number (0-65535)')
  .transform(Number)
  .refine((n) => n <= 65535, 'must be a port number (0-65535)');
const count = (min: number, max: number, fallback: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .default(fallback);
const flag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const schema = z
  .object({
  DATA_DIR: z.string().min(1).default('./data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  DATABASE_URL: z
      .string()
      .regex(/^(mysql|mariadb):\/\/.+|^sqlite:.+/, 'must be mysql://… or sqlite:<file>')
      .optional(),
  REDIS_URL: z.string().regex(/^rediss?:\/\/.+/, 'must be redis://… or rediss://…').optional(),
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/).default('axion'),
  MQTT_URL: z.string().regex(/^(mqtts?|wss?|tcp):\/\/.+/, 'must be mqtt://, mqtts://, ws:// or wss://').optional(),
  MQTT_USERNAME: z.string().optional(),
  MQTT_INTAKE_LEASE_MS: count(1_000, 600_000, 10_000),
  MQTT_PASSWORD: z.string().optional(),
  MQTT_TOPIC_ROOT: z
    .string()
    .refine(isValidTopicRoot, 'must be 1-64 characters of [A-Za-z0-9._-]')
    .default('axion'),
  MQTT_HOST: z.string().min(1).default('0.0.0.0'),
  MQTT_PORT: port.optional(),
  MQTT_WS_PORT: port.optional(),
  MQTT_MAX_CONNECTIONS_PER_ADDRESS: count(1, 1_000_000, 1_000),
  MQTT_CONNECTS_PER_ADDRESS_PER_MINUTE: count(1, 1_000_000, 600),
  MQTT_MAX_PAYLOAD_BYTES: count(1_024, 268_435_455, 65_536),
  MQTT_MAX_KEEPALIVE_SECONDS: count(10, 65_535, 3_600),
  MQTT_MAX_CONNECT_BYTES: count(1_024, 1_048_576, 16_384),
  MQTT_CLUSTER: flag.default(false),
  MQTT_WS_COOKIE_ORIGINS: z
    .string()
    .transform((v) => v.split(',').map((o) => o.trim()).filter(Boolean))
    .refine((origins) => origins.every((o) => /^https?:\/\/[^/\s]+$/.test(o)), 'must be comma-separated origins like https://app.example.com')
    .optional(),
  MQTT_SESSION_MAX_MESSAGES: count(2, 1_000_000, 1_000),
  MQTT_TRUSTED_PROXIES: z
    .string()
    .transform((v) => v.split(',').map((a) => a.trim()).filter(Boolean))
    .refine((addresses) => addresses.every((a) => isIP(a) !== 0), 'must be comma-separated IP addresses')
    .optional(),
  HTTP_HOST: z.string().min(1).default('0.0.0.0'),
  HTTP_PORT: port.optional(),
  METRICS_PORT: port.optional(),
  DEMO_PAGE: flag.optional(),
  ...httpLimitSettings,
  AUTH_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  ...authSettings,
  API_KEYS: z
    .string()
    .default('')
    .transform((value, ctx) => {
      const keys = parseApiKeys(value);
      if (typeof keys === 'string') {
        ctx.addIssue({ code: 'custom', message: keys });
        return z.NEVER;
      }
      return keys;
    }),
  VAPID_SUBJECT: z
    .string()
    .regex(/^(mailto:.+@.+|https:\/\/.+)$/, 'must be a mailto: address or an https: URL')
    .default('mailto:push-admin@example.com'),
  VAPID_PUBLIC_KEY: z.string().optional(),
  VAPID_PRIVATE_KEY: z.string().optional(),
  PUSH_ENDPOINT_ALLOWLIST: z
      .string()
      .transform((v) => v.split(',').map((h) => h.trim().toLowerCase().replace(/^\*\./, '')))
      .refine((hosts) => hosts.every((h) => /^[a-z0-9.-]+\.[a-z0-9-]+$/.test(h)), {
        message: 'must be comma-separated host names (a leading *. is allowed)',
      })
      .optional(),
  PUSH_ALLOW_INSECURE_LOOPBACK: flag.default(false),
  PUSH_CONCURRENCY: count(1, 1000, 16),
  PUSH_TIMEOUT_MS: count(100, 120_000, 10_000),
  PUSH_MAX_ATTEMPTS: count(1, 50, 8),
  PUSH_JOB_LOCK_MS: count(1_000, 600_000, 30_000),
  PUSH_STALE_AFTER_DAYS: count(1, 3650, 60),
  INBOX_SEEN_RETENTION_DAYS: count(1, 3650, 30),
  INBOX_UNSEEN_WINDOW_MS: count(0, 10_000, 250),
  NOTIFICATION_RETENTION_DAYS: count(0, 3650, 30),
  PUSH_SHUTDOWN_TIMEOUT_MS: count(0, 600_000, 20_000),
  PUSH_HTTP2: z.enum(['auto', 'always', 'off']).default('auto'),
  })
  .superRefine((e, ctx) => {
    if (e.VAPID_PUBLIC_KEY === undefined && e.VAPID_PRIVATE_KEY === undefined) return;
    const problem = vapidPairProblem(e.VAPID_PUBLIC_KEY, e.VAPID_PRIVATE_KEY);
    if (problem) ctx.addIssue({ code: 'custom', path: ['VAPID_PRIVATE_KEY'], message: problem });
  });

/**
 * Validates the environment once, at start-up. Every problem is reported together, each
 * naming its variable, so a bad deployment fails with one readable message.
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  // A variable set to nothing (`LOG_LEVEL=` in .env, `${X}` in compose) means "not set".
  const given = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ''),
  );
  const parsed = schema.safeParse(given);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`);
    throw new ConfigError(`invalid settings:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  const dataDir = resolve(e.DATA_DIR);
  const portSetting = (value: number | undefined, fallback: number): PortSetting => ({
    port: value ?? fallback,
    explicit: value !== undefined,
  });
  return {
    dataDir,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    database: { url: e.DATABASE_URL ?? `sqlite:${resolve(dataDir, 'axion-push.sqlite')}` },
    redis: { url: e.REDIS_URL, queuePrefix: e.QUEUE_PREFIX },
    mqtt: {
      url: e.MQTT_URL,
      username: e.MQTT_USERNAME,
      password: e.MQTT_PASSWORD,
      topicRoot: e.MQTT_TOPIC_ROOT,
      intakeLeaseMs: e.MQTT_INTAKE_LEASE_MS,
    },
    broker: {
      host: e.MQTT_HOST,
      tcp: portSetting(e.MQTT_PORT, 1883),
      ws: portSetting(e.MQTT_WS_PORT, 8883),
      limits: {
        maxConnectionsPerAddress: e.MQTT_MAX_CONNECTIONS_PER_ADDRESS,
        connectsPerAddressPerMinute: e.MQTT_CONNECTS_PER_ADDRESS_PER_MINUTE,
        maxPayloadBytes: e.MQTT_MAX_PAYLOAD_BYTES,
        maxKeepAliveSeconds: e.MQTT_MAX_KEEPALIVE_SECONDS,
        maxConnectBytes: e.MQTT_MAX_CONNECT_BYTES,
      },
      cluster: e.MQTT_CLUSTER,
      cookieOrigins: e.MQTT_WS_COOKIE_ORIGINS,
      maxSessionMessages: e.MQTT_SESSION_MAX_MESSAGES,
      trustedProxies: e.MQTT_TRUSTED_PROXIES,
    },
    http: {
      host: e.HTTP_HOST,
      port: portSetting(e.HTTP_PORT, 3000),
      metricsPort: e.METRICS_PORT,
      demoPage: e.DEMO_PAGE,
      rateLimits: toRateLimitSettings(e),
      trustedProxies: e.HTTP_TRUSTED_PROXIES,
    },
    auth: toAuthConfig(e),
    push: {
      vapidSubject: e.VAPID_SUBJECT,
      vapidDefaultKey:
        e.VAPID_PUBLIC_KEY && e.VAPID_PRIVATE_KEY
          ? { publicKey: e.VAPID_PUBLIC_KEY, privateKey: e.VAPID_PRIVATE_KEY }
          : undefined,
      endpointPolicy: {
        allowedHosts: e.PUSH_ENDPOINT_ALLOWLIST ?? DEFAULT_PUSH_HOSTS,
        allowInsecureLoopback: e.PUSH_ALLOW_INSECURE_LOOPBACK,
      },
      concurrency: e.PUSH_CONCURRENCY,
      timeoutMs: e.PUSH_TIMEOUT_MS,
      maxAttempts: e.PUSH_MAX_ATTEMPTS,
      jobLockMs: e.PUSH_JOB_LOCK_MS,
      staleAfterDays: e.PUSH_STALE_AFTER_DAYS,
      shutdownTimeoutMs: e.PUSH_SHUTDOWN_TIMEOUT_MS,
      http2: e.PUSH_HTTP2,
    },
    inbox: {
      seenRetentionDays: e.INBOX_SEEN_RETENTION_DAYS,
      notificationRetentionDays: e.NOTIFICATION_RETENTION_DAYS,
      unseenWindowMs: e.INBOX_UNSEEN_WINDOW_MS,
    },
  };
}

/**
 * For a setting a service cannot run without (the all-in-one fills some in itself): returns
 * it, or fails with the variable's name and what to do.
 */
export function requireSetting<T>(value: T | undefined, variable: string, hint: string): T {
  if (value === undefined || (Array.isArray(value) && value.length === 0)) {
    throw new ConfigError(`${variable} is not set: ${hint}`);
  }
  return value;
}

/** A URL fit for logs: user info replaced, so `mysql://u:secret@db/x` prints as `mysql://***@db/x`. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
