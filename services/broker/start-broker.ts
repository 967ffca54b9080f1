import type { IncomingMessage } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Aedes } from 'aedes';
import aedesPersistenceRedis from 'aedes-persistence-redis';
import { Redis } from 'ioredis';
import MQEmitterRedis from 'mqemitter-redis';
import { createAuthenticator, type AuthenticatorOptions } from '../../shared/auth/index.js';
import type { AuthConfig, BrokerConfig, BrokerLimits, RedisConfig } from '../../shared/config/index.js';
import { brokerCheck, redisCheck, type ReadinessCheck } from '../../shared/health/index.js';
import { closeServer, listen, type Service } from '../../shared/lifecycle/index.js';
import { registerMqttClients, type MetricsRegistry } from '../../shared/metrics/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { createTopics } from '../../shared/topics/index.js';
import { createPresenceTracker } from '../../shared/presence/index.js';
import { connectRedis } from '../../shared/queue/index.js';
import { acknowledgeWhenStored } from './acknowledge-when-stored.js';
import { installAuthorization } from './authorize.js';
import { createConnectionLimits } from './connection-limits.js';
import { indexOutgoingQueues } from './outgoing-queues.js';
import { limitPacketSize, type PacketSizeLimits } from './packet-size-limit.js';
import { trackPresence } from './presence.js';
import { createWebSocketListener } from './websocket-listener.js';
import { createTopicAcl } from './topic-acl.js';

export interface Broker extends Service {
  /** Ports actually bound (they differ from the settings when a default port was taken). */
  tcpPort: number;
  wsPort: number;
  /** The broker's own listener, and the Redis its presence (and cluster) lives in. */
  readiness: ReadinessCheck[];
}

export interface BrokerDeps {
  config: BrokerConfig;
  /** Who may connect: the same user authentication and API keys as the HTTP API. */
  auth: AuthConfig & Pick<AuthenticatorOptions, 'jwksCooldownMs'>;
  topicRoot: string;
  /** Where presence is kept, so that routers and workers see who is online. */
  redis: RedisConfig & { url: string };
  log: Logger;
  /** True only in the all-in-one default, where a taken default port moves to the next one. */
  moveWhenTaken?: boolean;
  /** Where connected clients are reported. */
  metrics?: MetricsRegistry;
}

/**
 * Messages pass between broker instances over Redis pub/sub, and sessions (subscriptions and the
 * QoS 1 messages kept for offline persistent sessions, at most `maxSessionMessages` each) live in
 * Redis, so a client may come back to any instance.
 */
function clusterOptions(redisUrl: string, maxSessionMessages: number, log: Logger) {
  const mq = MQEmitterRedis({ connectionString: redisUrl });
  // Both emit connection errors; without listeners a Redis outage would end the process.
  (mq as unknown as { state: NodeJS.EventEmitter }).state.on('error', (err: Error) =>
    log.warn({ err: err.message }, 'cluster message bus error'),
  );
  const conn = new Redis(redisUrl);
  conn.on('error', (err: Error) => log.warn({ err: err.message }, 'cluster session store error'));
  return {
    mq,
    persistence: aedesPersistenceRedis({
      conn,
      // The library reads LRANGE 0..n, which is n + 1 messages.
      maxSessionDelivery: maxSessionMessages - 1,
      // Kept messages expire after a day: offline delivery is Web Push's job, not the broker's.
      packetTTL: () => 86_400,
    }),
  };
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Whether a page of `origin` may log in with the cookie: listed, or local when no list is set. */
function originAllowed(origin: string | undefined, allowed: readonly string[] | undefined): boolean {
  if (!origin) return false;
  if (allowed) return allowed.includes(origin);
  try {
    return LOOPBACK_HOSTS.has(new URL(origin).hostname);
  } catch {
    return false;
  }
}

const DEFAULT_LIMITS: BrokerLimits = {
  maxConnectionsPerAddress: 1_000,
  connectsPerAddressPerMinute: 600,
  maxPayloadBytes: 65_536,
  maxKeepAliveSeconds: 3_600,
};

/** Room in a PUBLISH beside its payload: the longest valid topic is ~340 bytes, plus ids. */
const PUBLISH_OVERHEAD_BYTES = 1_024;
/** A CONNECT carries a client id, a user name and a JWT or key: a few KB, never more. */
const DEFAULT_MAX_CONNECT_BYTES = 16_384;

/** A subscriber that stops reading is cut off after this, so it cannot stall the others. */
const DRAIN_TIMEOUT_MS = 10_000;

/**
 * Starts the embedded aedes broker on TCP and on WebSocket (path `/mqtt`). Producers, the
 * router and dashboards all reach it as ordinary MQTT clients.
 */
export async function startBroker(deps: BrokerDeps): Promise<Broker> {
  const { config, auth, topicRoot, log, moveWhenTaken = false } = deps;
  const limits = config.limits ?? DEFAULT_LIMITS;
  const aedes = await Aedes.createBroker({
    ...(config.cluster ? clusterOptions(deps.redis.url, config.maxSessionMessages ?? 1_000, log) : {}),
    drainTimeout: DRAIN_TIMEOUT_MS,
    maxTopicLevels: 8,
    // Also refuses keep-alive 0: a session that never pings would hold its socket forever.
    keepaliveLimit: limits.maxKeepAliveSeconds,
    connectTimeout: 10_000,
  });
  if (!config.cluster) indexOutgoingQueues((aedes as unknown as { persistence: unknown }).persistence);
  const topics = createTopics(topicRoot);
  const { identityOf } = installAuthorization(aedes, {
    auth: createAuthenticator({ ...auth, log }),
    acl: createTopicAcl(topics),
    maxPayloadBytes: limits.maxPayloadBytes,
    routerClientId: topics.routerClientId,
    cookieOriginAllowed: (origin) => originAllowed(origin, config.cookieOrigins),
    webhook: auth.webhook !== undefined,
    log,
  });
  // After the authorization it wraps: a PUBACK then means the message is in Redis.
  if (config.cluster) acknowledgeWhenStored(aedes);
  const perAddress = createConnectionLimits({
    maxPerAddress: limits.maxConnectionsPerAddress,
    connectsPerMinute: limits.connectsPerAddressPerMinute,
  });
  const admitted = (address: string, socket: { once(event: 'close', fn: () => void): unknown }) => {
    if (!perAddress.admit(address)) {
      log.warn({ address }, 'mqtt connection refused: too many from this address');
      return false;
    }
    socket.once('close', () => perAddress.release(address));
    return true;
  };
  const packetLimits: PacketSizeLimits = {
    maxConnectBytes: limits.maxConnectBytes ?? DEFAULT_MAX_CONNECT_BYTES,
    maxPacketBytes: limits.maxPayloadBytes + PUBLISH_OVERHEAD_BYTES,
  };
  /** Hands a connection to aedes, to be closed at the header of a packet that is too large. */
  const handle = (connection: Duplex, address: string, req?: IncomingMessage) => {
    aedes.handle(connection, req);
    limitPacketSize(connection, packetLimits, (reason) =>
      log.info({ address, reason }, 'mqtt connection closed: packet too large'),
    );
  };
  const redis = connectRedis(deps.redis.url, { log, role: 'broker-presence' });
  const tracker = createPresenceTracker({
    redis,
    prefix: deps.redis.queuePrefix,
    brokerId: aedes.id,
    onError: (err) => log.warn({ err }, 'presence write failed; the next heartbeat repairs it'),
  });
  trackPresence(aedes, { tracker, topics, identityOf });
  aedes.on('clientError', (client, err) => log.debug({ clientId: client.id, err: err.message }, 'client error'));
  aedes.on('connectionError', (client, err) => log.debug({ err: err.message }, 'connection error'));

  const tcp = createNetServer((socket: Socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    if (!admitted(address, socket)) {
      socket.destroy();
      return;
    }
    // Nagle's algorithm was measured adding ~45 ms spikes to small QoS 1 messages here.
    socket.setNoDelay(true);
    handle(socket, address);
  });
  const ws = createWebSocketListener({
    // A message may not be larger than the largest packet we accept (plus its fixed header).
    maxMessageBytes: packetLimits.maxPacketBytes + 5,
    trustedProxies: config.trustedProxies ?? [],
    admit: admitted,
    handle,
    log,
  });
  const http = ws.http;

  const tcpPort = await listen(tcp, {
    host: config.host, setting: config.tcp, variable: 'MQTT_PORT', moveWhenTaken,
    onError: (err) => log.error({ err }, 'mqtt listener error'),
  });
  let wsPort: number;
  try {
    wsPort = await listen(http, {
      host: config.host, setting: config.ws, variable: 'MQTT_WS_PORT', moveWhenTaken,
      onError: (err) => log.error({ err }, 'websocket listener error'),
    });
  } catch (err) {
    await closeServer(tcp);
    await tracker.close();
    redis.disconnect();
    throw err;
  }
  log.info({ tcpPort, wsPort }, 'mqtt broker listening');
  if (deps.metrics) registerMqttClients(deps.metrics, () => aedes.connectedClients);

  return {
    name: 'broker',
    tcpPort,
    wsPort,
    readiness: [
      brokerCheck(() => tcp.listening && !aedes.closed, 'the MQTT listener is closed'),
      redisCheck(redis),
    ],
    async close() {
      // aedes first: it disconnects every client, after which the servers can close.
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      ws.terminateAll();
      await Promise.all([closeServer(tcp), closeServer(http)]);
      await tracker.close();
      await redis.quit().catch(() => undefined);
    },
  };
}
