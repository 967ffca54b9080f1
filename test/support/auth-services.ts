import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import type { JWK } from 'jose';
import { startBroker, type Broker, type BrokerDeps } from '../../services/broker/start-broker.js';
import { startSubscriptionApi, type SubscriptionApi } from '../../services/subscription-api/start-subscription-api.js';
import type { RateLimitSettings } from '../../shared/config/index.js';
import { startDatabase, type Database } from '../../shared/database/index.js';
import { DEFAULT_PUSH_HOSTS } from '../../shared/push-endpoints/index.js';
import { obliterateQueues } from './queues.js';
import { testLogger } from './silent-logger.js';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from './test-databases.js';

/** A node:http server on a free loopback port that answers with `handle`. */
export interface LocalServer {
  url: string;
  /** Requests received so far, with their headers. */
  requests: IncomingHttpHeaders[];
  close(): Promise<void>;
}

export async function startLocalServer(
  handle: (headers: IncomingHttpHeaders) => Promise<{ status: number; body?: unknown }>,
): Promise<LocalServer> {
  const requests: IncomingHttpHeaders[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.headers);
    handle(req.headers).then(
      ({ status, body }) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(body === undefined ? '' : JSON.stringify(body));
      },
      () => res.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A JWKS endpoint serving whatever `keys` holds at the time of the request. */
export function startJwksServer(keys: JWK[]): Promise<LocalServer> {
  return startLocalServer(async () => ({ status: 200, body: { keys } }));
}

export interface AuthServices {
  /** GET /v1/subscriptions with these headers: 200 for a signed-in user. */
  apiStatus(headers: Record<string, string>): Promise<{ status: number; retryAfter: string | null }>;
  /** Connects to the broker; resolves the client or rejects with the CONNACK refusal. */
  mqtt(options: IClientOptions, transport?: 'tcp' | 'ws'): Promise<MqttClient>;
  /** The CONNACK return code of a refused login, or 0 when it was accepted. */
  connack(options: IClientOptions, transport?: 'tcp' | 'ws'): Promise<number>;
  close(): Promise<void>;
}

/**
 * The real subscription-api and broker, both with `auth`, on MariaDB and Redis; the API counts
 * `rateLimits` when given.
 */
export async function startAuthServices(
  auth: BrokerDeps['auth'],
  options: { rateLimits?: RateLimitSettings } = {},
): Promise<AuthServices> {
  const log = testLogger();
  const redis = { url: TEST_REDIS_URL, queuePrefix: `test-${randomUUID()}` };
  const testDb: TestDatabase = await createTestDatabase('mysql');
  const database: Database = await startDatabase(testDb.config, log);
  const api: SubscriptionApi = await startSubscriptionApi({
    http: { host: '127.0.0.1', port: { port: 0, explicit: true }, rateLimits: options.rateLimits },
    auth,
    push: { endpointPolicy: { allowedHosts: DEFAULT_PUSH_HOSTS, allowInsecureLoopback: false } },
    redis,
    dataSource: database.dataSource,
    log,
  });
  const broker: Broker = await startBroker({
    config: { host: '127.0.0.1', tcp: { port: 0, explicit: true }, ws: { port: 0, explicit: true } },
    auth,
    topicRoot: 'axion',
    redis,
    log,
  });
  const clients: MqttClient[] = [];

  async function mqtt(options: IClientOptions, transport: 'tcp' | 'ws' = 'tcp'): Promise<MqttClient> {
    const url = transport === 'tcp' ? `mqtt://127.0.0.1:${broker.tcpPort}` : `ws://127.0.0.1:${broker.wsPort}/mqtt`;
    const client = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5_000, ...options });
    clients.push(client);
    client.on('error', () => {});
    return client;
  }

  return {
    async apiStatus(headers) {
      const res = await fetch(`http://127.0.0.1:${api.port}/v1/subscriptions?package=crm`, { headers });
      await res.arrayBuffer();
      return { status: res.status, retryAfter: res.headers.get('retry-after') };
    },
    mqtt,
    connack: (options, transport) =>
      mqtt(options, transport).then(
        () => 0,
        (err: { code?: number }) => err.code ?? -1,
      ),
    async close() {
      await Promise.allSettled(clients.splice(0).map((c) => c.endAsync(true)));
      await Promise.allSettled([api.close(), broker.close()]);
      await database.close();
      await testDb.drop();
      await obliterateQueues(TEST_REDIS_URL, redis.queuePrefix);
    },
  };
}
