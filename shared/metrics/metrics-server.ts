import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, listen, type Service } from '../lifecycle/index.js';
import type { Logger } from '../logging/index.js';
import { renderMetrics, type MetricsRegistry } from './create-metrics-registry.js';

export interface MetricsServerOptions {
  registry: MetricsRegistry;
  host: string;
  /** 0 picks a free port; the one bound is `port` of the result. */
  port: number;
  log: Logger;
}

export interface MetricsServer extends Service {
  port: number;
}

/**
 * Starts a small HTTP server answering `GET /metrics` only, for services that have no HTTP
 * API of their own (broker, router, worker). Anything else is 404 (or 405 on /metrics).
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const log = options.log.child({ part: 'metrics' });
  const server = createServer((req, res) => {
    answer(options.registry, req, res).catch((err: unknown) => {
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

async function answer(
  registry: MetricsRegistry,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (path !== '/metrics') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
    res.end('method not allowed\n');
    return;
  }
  const { contentType, body } = await renderMetrics(registry);
  res.writeHead(200, { 'content-type': contentType });
  res.end(req.method === 'HEAD' ? undefined : body);
}
