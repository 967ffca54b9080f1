import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import { expect } from 'chai';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Redis } from 'ioredis';
import { startDatabase, type Database } from '../../shared/database/index.js';
import { closeServer } from '../../shared/lifecycle/index.js';
import {
  createHttpMetrics,
  createMetricsHandler,
  createMetricsRegistry,
  createPushMetrics,
  queueDepthSource,
  registerQueueDepth,
  startMetricsServer,
  type MetricsServer,
} from '../../shared/metrics/index.js';
import { connectRedis } from '../../shared/queue/index.js';
import { QUEUE_NAMES } from '../../shared/topics/index.js';
import type { SubscriptionApi } from '../../services/subscription-api/start-subscription-api.js';
import { obliterateQueues } from '../support/queues.js';
import { testLogger } from '../support/silent-logger.js';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../support/test-databases.js';
import { startRealTestApi } from '../support/test-api.js';

const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

describe('startMetricsServer', function () {
  let server: MetricsServer;
  let base: string;
  const registry = createMetricsRegistry();

  before(async function () {
    server = await startMetricsServer({ registry, host: '127.0.0.1', port: 0, log: testLogger() });
    base = `http://127.0.0.1:${server.port}`;
  });
  after(async function () {
    await server.close();
  });

  it('serves the counters and the process metrics in the Prometheus text format', async function () {
    const push = createPushMetrics(registry);
    push.observeSend({ origin: 'https://fcm.googleapis.com', outcome: 'sent', seconds: 0.08 });
    push.observeSend({ origin: 'https://fcm.googleapis.com', outcome: 'gone', seconds: 0.05 });

    const res = await fetch(`${base}/metrics`);

    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal(PROMETHEUS_TEXT);
    const text = await res.text();
    expect(text).to.include('# TYPE axion_push_sends_total counter');
    expect(text).to.include('axion_push_sends_total{origin="https://fcm.googleapis.com",outcome="sent"} 1');
    expect(text).to.include('axion_push_send_duration_seconds_count{origin="https://fcm.googleapis.com"} 2');
    expect(text).to.match(/^process_resident_memory_bytes \d+/m);
    expect(text).to.match(/^nodejs_eventloop_lag_seconds [\d.e-]+/m);
  });

  it('answers 404 to other paths and 405 to other methods', async function () {
    expect((await fetch(`${base}/`)).status).to.equal(404);
    expect((await fetch(`${base}/metrics/extra`)).status).to.equal(404);
    const post = await fetch(`${base}/metrics`, { method: 'POST' });
    expect(post.status).to.equal(405);
    expect(post.headers.get('allow')).to.equal('GET, HEAD');
  });
});

describe('registerQueueDepth on BullMQ', function () {
  const prefix = `test-${randomUUID()}`;
  let redis: Redis;
  let queues: Queue[];

  before(function () {
    redis = connectRedis(TEST_REDIS_URL, { log: testLogger(), role: 'test', failFast: true });
    queues = [QUEUE_NAMES.route, QUEUE_NAMES.push].map((name) => new Queue(name, { connection: redis, prefix }));
  });
  after(async function () {
    for (const queue of queues) await queue.close();
    await obliterateQueues(redis, prefix);
    await redis.quit();
  });

  it('reports the waiting and delayed jobs Redis holds for each queue', async function () {
    const [route, push] = queues as [Queue, Queue];
    await route.addBulk([1, 2, 3].map((n) => ({ name: 'route', data: { n } })));
    await route.add('route', { n: 4 }, { delay: 60_000 });
    await push.add('push', { n: 5 });
    const registry = createMetricsRegistry();
    registerQueueDepth(registry, queues.map(queueDepthSource));

    const text = await registry.metrics();

    expect(text).to.include('axion_push_queue_jobs{queue="route",state="waiting"} 3');
    expect(text).to.include('axion_push_queue_jobs{queue="route",state="delayed"} 1');
    expect(text).to.include('axion_push_queue_jobs{queue="route",state="active"} 0');
    expect(text).to.include('axion_push_queue_jobs{queue="route",state="failed"} 0');
    expect(text).to.include('axion_push_queue_jobs{queue="push",state="waiting"} 1');

    await route.add('route', { n: 6 });
    expect(await registry.metrics()).to.include('axion_push_queue_jobs{queue="route",state="waiting"} 4');
  });

  it('answers a scrape without the queues that do not answer in time', async function () {
    const registry = createMetricsRegistry();
    const hanging = { name: 'push', counts: () => new Promise<Record<string, number>>(() => undefined) };
    registerQueueDepth(registry, [queueDepthSource(queues[0]!), hanging], { timeoutMs: 50 });

    const text = await registry.metrics();

    expect(text).to.include('axion_push_queue_jobs{queue="route",state="waiting"}');
    expect(text).to.not.include('queue="push"');
    expect(text).to.match(/^process_resident_memory_bytes \d+/m);
  });
});

describe('createHttpMetrics in an Express app', function () {
  let server: Server;
  let base: string;

  before(async function () {
    const registry = createMetricsRegistry();
    const app = express();
    app.use(createHttpMetrics(registry));
    app.get('/metrics', createMetricsHandler(registry));
    const things = express.Router();
    things.get('/things/:id', (req, res) => {
      if (req.params.id === 'bad') throw Object.assign(new Error('bad id'), { status: 400 });
      res.json({ id: req.params.id });
    });
    app.use('/v1', things);
    app.use((err: { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
      res.status(err.status ?? 500).end();
    });
    server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async function () {
    server.closeAllConnections();
    await closeServer(server);
  });

  it('counts requests by the matched route pattern, including mounted routers and errors', async function () {
    for (const id of ['a1', 'b2', 'bad']) await (await fetch(`${base}/v1/things/${id}`)).text();
    await (await fetch(`${base}/nowhere/42`)).text();

    const res = await fetch(`${base}/metrics`);
    const text = await res.text();

    expect(res.headers.get('content-type')).to.equal(PROMETHEUS_TEXT);
    expect(text).to.include('axion_push_http_requests_total{method="GET",route="/v1/things/:id",status="200"} 2');
    expect(text).to.include('axion_push_http_requests_total{method="GET",route="/v1/things/:id",status="400"} 1');
    expect(text).to.include('axion_push_http_requests_total{method="GET",route="unmatched",status="404"} 1');
    expect(text).to.include('axion_push_http_request_duration_seconds_count{method="GET",route="/v1/things/:id"} 3');
    expect(text).to.not.include('a1');
    expect(text).to.not.include('/nowhere');
  });
});

describe('GET /metrics on the subscription-api', function () {
  const prefix = `test-${randomUUID()}`;
  let testDb: TestDatabase;
  let database: Database;
  let api: SubscriptionApi;
  const registry = createMetricsRegistry();

  before(async function () {
    testDb = await createTestDatabase('sqlite');
    database = await startDatabase(testDb.config, testLogger());
    api = await startRealTestApi(database.dataSource, prefix, { metrics: registry });
  });
  after(async function () {
    await api.close();
    await database.close();
    await testDb.drop();
    await obliterateQueues(TEST_REDIS_URL, prefix);
  });

  it('serves the shared registry with HTTP counts and the depth of both queues', async function () {
    createPushMetrics(registry).observeSend({ origin: 'https://web.push.apple.com', outcome: 'sent', seconds: 0.1 });
    await (await fetch(`http://127.0.0.1:${api.port}/healthz`)).text();

    const res = await fetch(`http://127.0.0.1:${api.port}/metrics`);
    const text = await res.text();

    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal(PROMETHEUS_TEXT);
    expect(text).to.include('axion_push_http_requests_total{method="GET",route="/healthz",status="200"} 1');
    expect(text).to.include('axion_push_queue_jobs{queue="route",state="waiting"} 0');
    expect(text).to.include('axion_push_queue_jobs{queue="push",state="waiting"} 0');
    expect(text).to.include('axion_push_sends_total{origin="https://web.push.apple.com",outcome="sent"} 1');
  });
});
