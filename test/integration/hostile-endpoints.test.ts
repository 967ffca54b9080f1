import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import {
  createNotificationStore,
  createSubscriptionStore,
  createVapidKeyStore,
  startDatabase,
  type Database,
} from '../../shared/database/index.js';
import { createDeliveryStatus } from '../../shared/delivery-status/index.js';
import { DEFAULT_PUSH_HOSTS } from '../../shared/push-endpoints/index.js';
import { connectRedis, createRouteQueue, type RouteQueue } from '../../shared/queue/index.js';
import { QUEUE_NAMES } from '../../shared/topics/index.js';
import { createAuthenticator } from '../../services/subscription-api/authenticate.js';
import { createApp } from '../../services/subscription-api/create-app.js';
import { testLogger } from '../support/silent-logger.js';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../support/test-databases.js';
import { TEST_JWT_SECRET, userToken } from '../support/tokens.js';
import { createBrowserKeys } from '../support/web-push-receiver.js';

const FCM = 'https://fcm.googleapis.com/fcm/send/';

/** Endpoints an attacker might register to make our servers POST somewhere they choose. */
const HOSTILE_ENDPOINTS: Array<[string, string]> = [
  ['plain http', 'http://fcm.googleapis.com/fcm/send/x'],
  ['port 80 on https', 'https://fcm.googleapis.com:80/fcm/send/x'],
  ['port 8443', 'https://fcm.googleapis.com:8443/fcm/send/x'],
  ['port 0', 'https://fcm.googleapis.com:0/fcm/send/x'],
  ['user info', 'https://user:pw@fcm.googleapis.com/fcm/send/x'],
  ['a user name alone', 'https://attacker@fcm.googleapis.com/fcm/send/x'],
  ['the allowed host as user info of another host', 'https://fcm.googleapis.com@evil.example/fcm/send/x'],
  ['the allowed host and port as user info', 'https://fcm.googleapis.com:443@evil.example/'],
  ['an IPv4 loopback literal', 'https://127.0.0.1/fcm/send/x'],
  ['the cloud metadata address', 'http://169.254.169.254/latest/meta-data/'],
  ['a private IPv4 literal', 'https://10.0.0.1/fcm/send/x'],
  ['loopback in decimal', 'https://2130706433/'],
  ['loopback in hex', 'https://0x7f.1/'],
  ['loopback in octal', 'https://0177.0.0.1/'],
  ['loopback shortened', 'https://127.1/'],
  ['the unspecified address', 'https://0.0.0.0/'],
  ['the unspecified address as one number', 'https://0/'],
  ['IPv6 loopback', 'https://[::1]/'],
  ['IPv4-mapped IPv6 loopback', 'https://[::ffff:127.0.0.1]/'],
  ['IPv6 unspecified', 'https://[::]/'],
  ['IPv6 link-local', 'https://[fe80::1]/'],
  ['localhost', 'https://localhost/fcm/send/x'],
  ['localhost with a trailing dot', 'https://localhost./fcm/send/x'],
  ['the allowed host in the path', 'https://evil.example/fcm.googleapis.com/fcm/send/x'],
  ['the allowed host in the query', 'https://evil.example/?endpoint=https://fcm.googleapis.com/'],
  ['the allowed host as a prefix', 'https://fcm.googleapis.com.evil.example/fcm/send/x'],
  ['a host that only ends with the same characters', 'https://evilfcm.googleapis.com/fcm/send/x'],
  ['a parent domain of an allowed host', 'https://googleapis.com/fcm/send/x'],
  ['the allowed host with a trailing dot', 'https://fcm.googleapis.com./fcm/send/x'],
  ['the backslash trick', 'https://evil.example\\@fcm.googleapis.com/fcm/send/x'],
  ['a percent-encoded host', 'https://%66%63%6d.googleapis.com/fcm/send/x'],
  ['a percent-encoded dot that makes another host', 'https://fcm.googleapis.com%2eevil.example/'],
  ['an IDN homograph (Greek omicron)', 'https://fcm.googleapis.c\u03bfm/fcm/send/x'],
  ['file:', 'file:///etc/passwd'],
  ['javascript:', 'javascript:alert(1)'],
  ['data:', 'data:text/plain,fcm.googleapis.com'],
  ['gopher:', 'gopher://fcm.googleapis.com/_x'],
  ['ftp:', 'ftp://fcm.googleapis.com/fcm/send/x'],
  ['ws:', 'ws://fcm.googleapis.com/fcm/send/x'],
  ['wss:', 'wss://fcm.googleapis.com/fcm/send/x'],
  ['blank', ''],
  ['only spaces', '   '],
  ['2049 characters', FCM + 'a'.repeat(2049 - FCM.length)],
  ['schemeless', '//fcm.googleapis.com/fcm/send/x'],
  ['wrapped in whitespace', ' https://fcm.googleapis.com/fcm/send/x '],
  ['a fragment', 'https://fcm.googleapis.com/fcm/send/x#frag'],
  ['an empty fragment', 'https://fcm.googleapis.com/fcm/send/x#'],
];

describe('POST /v1/subscriptions with hostile endpoints', function () {
  let testDb: TestDatabase;
  let database: Database;
  let redis: Redis;
  let routeQueue: RouteQueue;
  let server: Server;
  let base: string;
  const prefix = `test-${randomUUID()}`;

  before(async function () {
    testDb = await createTestDatabase('sqlite');
    database = await startDatabase(testDb.config, testLogger());
    redis = connectRedis(TEST_REDIS_URL, { log: testLogger(), role: 'test', failFast: true });
    routeQueue = createRouteQueue({ connection: redis, prefix, log: testLogger() });
    const app = createApp({
      auth: createAuthenticator({ jwtSecret: TEST_JWT_SECRET, apiKeys: [] }),
      subscriptions: createSubscriptionStore(database.dataSource),
      vapidKeys: createVapidKeyStore(database.dataSource),
      notifications: createNotificationStore(database.dataSource),
      routeQueue,
      status: createDeliveryStatus(redis, prefix),
      endpointPolicy: { allowedHosts: DEFAULT_PUSH_HOSTS, allowInsecureLoopback: false },
      log: testLogger(),
    });
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async function () {
    await new Promise((resolve) => server?.close(resolve));
    if (redis) {
      const queue = new Queue(QUEUE_NAMES.route, { connection: redis, prefix });
      await queue.obliterate({ force: true });
      await queue.close();
    }
    await routeQueue?.close();
    await redis?.quit();
    await database?.close();
    await testDb?.drop();
  });

  async function subscribe(endpoint: string, token: string) {
    const keys = createBrowserKeys();
    const res = await fetch(`${base}/v1/subscriptions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ package: 'crm', endpoint, expirationTime: null, keys: { p256dh: keys.p256dh, auth: keys.auth } }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }

  async function listed(token: string): Promise<unknown[]> {
    const res = await fetch(`${base}/v1/subscriptions?package=crm`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).to.equal(200);
    return ((await res.json()) as { subscriptions: unknown[] }).subscriptions;
  }

  it('accepts a real FCM endpoint sent the same way, so the refusals below are about the endpoint', async function () {
    const token = await userToken(`u-${randomUUID()}`, ['crm']);

    const res = await subscribe(`${FCM}${randomUUID()}`, token);

    expect(res.status).to.equal(201);
    expect(await listed(token)).to.have.length(1);
  });

  it(`has at least 30 hostile endpoints in its table (${HOSTILE_ENDPOINTS.length})`, function () {
    expect(HOSTILE_ENDPOINTS.length).to.be.at.least(30);
  });

  for (const [what, endpoint] of HOSTILE_ENDPOINTS) {
    const shown = endpoint.length > 80 ? `${endpoint.slice(0, 60)}… (${endpoint.length} chars)` : JSON.stringify(endpoint);
    it(`refuses ${what}: ${shown} with 400 and stores nothing`, async function () {
      const token = await userToken(`u-${randomUUID()}`, ['crm']);

      const res = await subscribe(endpoint, token);

      expect(res.status).to.equal(400);
      expect(res.body['error']['message']).to.contain('endpoint');
      expect(await listed(token)).to.deep.equal([]);
    });
  }
});
