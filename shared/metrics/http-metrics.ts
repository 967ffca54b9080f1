import { performance } from 'node:perf_hooks';
import type { Request, RequestHandler } from 'express';
import { Counter, Histogram } from 'prom-client';
import { renderMetrics, type MetricsRegistry } from './create-metrics-registry.js';

/** The route label of a request no route matched (404s, bodies refused before routing). */
export const UNMATCHED_ROUTE = 'unmatched';

const HTTP_SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * Adds `axion_push_http_requests_total{method,route,status}` and
 * `axion_push_http_request_duration_seconds{method,route}` to `registry` and returns the
 * middleware that feeds them; mount it before the routes. The route label is the matched
 * pattern (`/v1/vapid/:package`), never the URL, so ids and names cannot grow the series.
 * A request the client abandoned before the answer was complete has status `aborted`.
 */
export function createHttpMetrics(registry: MetricsRegistry): RequestHandler {
  const requests = new Counter({
    name: 'axion_push_http_requests_total',
    help: 'HTTP requests by method, route pattern and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'axion_push_http_request_duration_seconds',
    help: 'Time from receiving an HTTP request to finishing its answer, by method and route.',
    labelNames: ['method', 'route'] as const,
    buckets: HTTP_SECONDS_BUCKETS,
    registers: [registry],
  });
  return (req, res, next) => {
    const started = performance.now();
    const matched = watchRoutePattern(req);
    // 'close' comes after 'finish', and also when the client goes away first.
    res.once('close', () => {
      const route = matched() ?? UNMATCHED_ROUTE;
      const status = res.writableFinished ? String(res.statusCode) : 'aborted';
      requests.inc({ method: req.method, route, status });
      duration.observe({ method: req.method, route }, (performance.now() - started) / 1000);
    });
    next();
  };
}

/** `GET /metrics` for an Express app: the registry in the text exposition format. */
export function createMetricsHandler(registry: MetricsRegistry): RequestHandler {
  return async (_req, res) => {
    const { contentType, body } = await renderMetrics(registry);
    res.set('content-type', contentType).send(body);
  };
}

/**
 * Records the full pattern (mount path + route path) when the router matches a route. Read
 * later, `req.baseUrl` may already be restored to the parent's: a route that fails with an
 * error is reported outside the router it was mounted with.
 */
function watchRoutePattern(req: Request): () => string | undefined {
  let route: unknown = (req as { route?: unknown }).route;
  let pattern: string | undefined;
  Object.defineProperty(req, 'route', {
    configurable: true,
    enumerable: true,
    get: () => route,
    set(value: { path?: unknown } | undefined) {
      route = value;
      pattern = value?.path === undefined ? undefined : `${req.baseUrl}${String(value.path)}`;
    },
  });
  return () => pattern;
}
