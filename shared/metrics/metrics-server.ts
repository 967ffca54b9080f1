import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { HttpConfig } from '../config/index.js';
import { createReadiness, readinessAnswer, type Readiness, type ReadinessCheck } from '../health/index.js';
import { closeServer, listen, type Service } from '../lifecycle/index.js';
import type { Logger } from '../logging/index.js';
import { renderMetrics, type MetricsRegistry } from './create-metrics-registry.js';

export interface MetricsServerOptions {
  registry: MetricsRegistry;
  host: string;
  /** 0 picks a free port; the one bound is `port` of the result. */
  port: number;
  log: Logger;
  /** What `GET /readyz` checks; absent: it answers ready whenever the process is up. */
  readiness?: Readiness;
}

export interface MetricsServer extends Service {
  port: number;
}

/**
 * Starts a small HTTP server for services that have no HTTP API of their own (broker, router,
 * worker): `GET /metrics`, `GET /healthz` (the process is alive) and `GET /readyz` (its
 * dependencies answer). Anything else is 404 (or 405 on those paths).
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const log = options.log.child({ part: 'metrics' });
  const server = createServer((req, res) => {
    answer(options, req, res).catch((err: unknown) => {
      log.error({ err }, 'metrics could not be collected');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('metrics could not be collected\n');
    });
  });
  const port = await listen(server, {
    host: options.host,
    setting: { port: options.port, explicit: true },
    variable: 'METRICS_PORT',
    moveWhenTaken: false,
    onError: (err) => log.error({ err }, 'metrics listener error'),
  });
  log.info({ port }, 'metrics listening');
  return {
    name: 'metrics',
    port,
    async close() {
      server.closeIdleConnections();
      await closeServer(server);
    },
  };
}

const PATHS = new Set(['/metrics', '/healthz', '/readyz']);

/**
 * For a service started alone: the metrics server on `METRICS_PORT` when it is set, checking
 * `checks` for `/readyz`; nothing when it is not.
 */
export async function startMetricsServerWhenSet(
  http: Pick<HttpConfig, 'host' | 'metricsPort'>,
  options: { registry: MetricsRegistry; log: Logger; checks: readonly ReadinessCheck[] },
): Promise<MetricsServer[]> {
  if (http.metricsPort === undefined) return [];
  const readiness = createReadiness(options.checks);
  return [await startMetricsServer({ ...options, host: http.host, port: http.metricsPort, readiness })];
}

async function answer(
  options: MetricsServerOptions,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
  if (!PATHS.has(path)) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
    res.end('method not allowed\n');
    return;
  }
  const head = req.method === 'HEAD';
  if (path === '/metrics') {
    const { contentType, body } = await renderMetrics(options.registry);
    res.writeHead(200, { 'content-type': contentType });
    res.end(head ? undefined : body);
    return;
  }
  const { status, headers, body } =
    path === '/healthz'
      ? { status: 200, headers: {}, body: { ok: true } }
      : readinessAnswer(await (options.readiness ?? createReadiness([]))());
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(head ? undefined : JSON.stringify(body));
}
