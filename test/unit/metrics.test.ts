import { EventEmitter } from 'node:events';
import { expect } from 'chai';
import type { NextFunction, Request, Response } from 'express';
import { Registry } from 'prom-client';
import {
  createHttpMetrics,
  createLabelCap,
  createPushMetrics,
  registerQueueDepth,
  UNMATCHED_ROUTE,
} from '../../shared/metrics/index.js';

interface Row {
  labels: Record<string, string | number>;
  value: number;
  /** Histograms: `<name>_bucket`, `<name>_sum` or `<name>_count`. */
  metricName?: string;
}

/** The values of one metric as rows (the tests use registries without process metrics). */
async function series(registry: Registry, name: string): Promise<Row[]> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`${name} is not registered`);
  return (await metric.get()).values as Row[];
}

function valueOf(rows: Row[], labels: Record<string, string>): number | undefined {
  const matches = (row: Row) => Object.entries(labels).every(([k, v]) => String(row.labels[k]) === v);
  return rows.find(matches)?.value;
}

describe('createPushMetrics', function () {
  it('counts each send under its origin and outcome and times it per origin', async function () {
    const registry = new Registry();
    const metrics = createPushMetrics(registry);

    metrics.observeSend({ origin: 'https://fcm.googleapis.com', outcome: 'sent', seconds: 0.04 });
    metrics.observeSend({ origin: 'https://fcm.googleapis.com', outcome: 'sent', seconds: 0.2 });
    metrics.observeSend({ origin: 'https://fcm.googleapis.com', outcome: 'gone', seconds: 0.03 });
    metrics.observeSend({ origin: 'https://web.push.apple.com', outcome: 'retry', seconds: 3 });

    const sends = await series(registry, 'axion_push_sends_total');
    expect(valueOf(sends, { origin: 'https://fcm.googleapis.com', outcome: 'sent' })).to.equal(2);
    expect(valueOf(sends, { origin: 'https://fcm.googleapis.com', outcome: 'gone' })).to.equal(1);
    expect(valueOf(sends, { origin: 'https://web.push.apple.com', outcome: 'retry' })).to.equal(1);
    expect(valueOf(sends, { origin: 'https://web.push.apple.com', outcome: 'sent' })).to.equal(undefined);
    const durations = await series(registry, 'axion_push_send_duration_seconds');
    const fcm = durations.filter((row) => row.labels['origin'] === 'https://fcm.googleapis.com');
    expect(valueOf(fcm, { le: '0.05' })).to.equal(2);
    expect(fcm.find((row) => row.metricName?.endsWith('_count'))?.value).to.equal(3);
    const apple = durations.filter((row) => row.labels['origin'] === 'https://web.push.apple.com');
    expect(valueOf(apple, { le: '2.5' })).to.equal(0);
    expect(valueOf(apple, { le: '5' })).to.equal(1);
  });

  it('reports origins past the cap as other while the first ones keep their own series', async function () {
    const registry = new Registry();
    const metrics = createPushMetrics(registry, { maxOrigins: 2 });
    const windows = (n: number) => `https://wns2-par0${n}p.notify.windows.com`;

    for (const n of [1, 2, 3, 4, 1]) metrics.observeSend({ origin: windows(n), outcome: 'sent', seconds: 0.1 });

    const sends = await series(registry, 'axion_push_sends_total');
    expect(sends.map((row) => row.labels['origin']).sort()).to.deep.equal([windows(1), windows(2), 'other']);
    expect(valueOf(sends, { origin: windows(1) })).to.equal(2);
    expect(valueOf(sends, { origin: 'other' })).to.equal(2);
    const durations = await series(registry, 'axion_push_send_duration_seconds');
    expect(new Set(durations.map((row) => row.labels['origin']))).to.have.lengthOf(3);
  });

  it('caps at 100 distinct origins by default', async function () {
    const registry = new Registry();
    const metrics = createPushMetrics(registry);

    for (let n = 0; n < 150; n++) {
      metrics.observeSend({ origin: `https://h${n}.notify.windows.com`, outcome: 'sent', seconds: 0.1 });
    }

    const sends = await series(registry, 'axion_push_sends_total');
    expect(sends).to.have.lengthOf(101);
    expect(valueOf(sends, { origin: 'other' })).to.equal(50);
  });
});

describe('createLabelCap', function () {
  it('refuses a cap that is not a positive integer', function () {
    expect(() => createLabelCap(0)).to.throw(RangeError);
    expect(() => createLabelCap(1.5)).to.throw(RangeError);
  });
});

describe('registerQueueDepth', function () {
  it('reads the counts at scrape time and leaves out a queue that cannot be counted', async function () {
    const registry = new Registry();
    let waiting = 3;
    registerQueueDepth(registry, [
      { name: 'route', counts: async () => ({ waiting, active: 1, delayed: 0, failed: 2 }) },
      { name: 'push', counts: () => Promise.reject(new Error('Connection is closed.')) },
    ]);

    waiting = 7;
    const rows = await series(registry, 'axion_push_queue_jobs');

    expect(valueOf(rows, { queue: 'route', state: 'waiting' })).to.equal(7);
    expect(valueOf(rows, { queue: 'route', state: 'failed' })).to.equal(2);
    expect(rows.filter((row) => row.labels['queue'] === 'push')).to.deep.equal([]);
  });
});

/** Just enough of Express's req/res for the middleware: it reads them when the answer closes. */
interface Exchange {
  method: string;
  url: string;
  /** Where the matching route's router is mounted. */
  baseUrl?: string;
  /** The pattern of the route that matches, if any. */
  routePath?: string;
  status: number;
  /** The client went away before the answer was complete. */
  aborted?: boolean;
}

function fakeExchange(request: Exchange) {
  const res = Object.assign(new EventEmitter(), { statusCode: 200, writableFinished: true });
  const req = {
    method: request.method,
    originalUrl: request.url,
    url: request.url,
    baseUrl: request.baseUrl ?? '',
    route: undefined as { path: string } | undefined,
  };
  const routed = () => {
    if (request.routePath) req.route = { path: request.routePath };
  };
  return { req, res, routed };
}

describe('createHttpMetrics', function () {
  async function run(exchanges: Exchange[]) {
    const registry = new Registry();
    const middleware = createHttpMetrics(registry);
    for (const exchange of exchanges) {
      const { req, res, routed } = fakeExchange(exchange);
      let nextCalled = false;
      const next = (() => (nextCalled = true)) as NextFunction;
      middleware(req as unknown as Request, res as unknown as Response, next);
      expect(nextCalled).to.equal(true);
      routed();
      res.statusCode = exchange.status;
      res.writableFinished = !exchange.aborted;
      res.emit('close');
    }
    return { registry, rows: await series(registry, 'axion_push_http_requests_total') };
  }

  it('labels requests with the route pattern, never the URL with its ids', async function () {
    const { registry, rows } = await run([
      { method: 'GET', url: '/v1/vapid/crm', routePath: '/v1/vapid/:package', status: 200 },
      { method: 'GET', url: '/v1/vapid/billing', routePath: '/v1/vapid/:package', status: 200 },
      { method: 'GET', url: '/v1/vapid/BAD!', routePath: '/v1/vapid/:package', status: 400 },
      { method: 'GET', url: '/v1/notifications/e-42', baseUrl: '/v1', routePath: '/notifications/:id', status: 404 },
    ]);

    expect(rows.map((row) => row.labels)).to.have.deep.members([
      { method: 'GET', route: '/v1/vapid/:package', status: '200' },
      { method: 'GET', route: '/v1/vapid/:package', status: '400' },
      { method: 'GET', route: '/v1/notifications/:id', status: '404' },
    ]);
    expect(valueOf(rows, { route: '/v1/vapid/:package', status: '200' })).to.equal(2);
    const text = await registry.metrics();
    expect(text).to.not.include('/v1/vapid/crm');
    expect(text).to.not.include('e-42');
  });

  it('puts requests no route matched under one label and marks abandoned ones aborted', async function () {
    const { rows } = await run([
      { method: 'GET', url: '/wp-admin/install.php', status: 404 },
      { method: 'POST', url: '/v1/anything/123', status: 404 },
      { method: 'POST', url: '/v1/subscriptions', routePath: '/v1/subscriptions', status: 200, aborted: true },
    ]);

    expect(valueOf(rows, { method: 'GET', route: UNMATCHED_ROUTE, status: '404' })).to.equal(1);
    expect(valueOf(rows, { method: 'POST', route: UNMATCHED_ROUTE, status: '404' })).to.equal(1);
    expect(valueOf(rows, { route: '/v1/subscriptions', status: 'aborted' })).to.equal(1);
  });
});
