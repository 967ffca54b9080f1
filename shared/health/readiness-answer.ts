import type { RequestHandler } from 'express';
import type { Readiness, ReadinessReport } from './readiness.js';

/** Seconds a load balancer is told to wait before asking a service that is not ready again. */
const RETRY_AFTER_SECONDS = 5;

/**
 * The HTTP answer to `GET /readyz`: 200 `{ status: 'ready', checks }`, or 503 with
 * `Retry-After` and the contract's error body naming the parts that failed, plus `checks`.
 */
export function readinessAnswer(report: ReadinessReport): {
  status: number;
  headers: Record<string, string>;
  body: unknown;
} {
  if (report.ready) return { status: 200, headers: {}, body: { status: 'ready', checks: report.checks } };
  return {
    status: 503,
    headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
    body: {
      error: { code: 'unavailable', message: `not ready: ${report.failing.join(', ')} unreachable` },
      checks: report.checks,
    },
  };
}

/** `GET /readyz` for an Express app. */
export function readinessHandler(readiness: Readiness): RequestHandler {
  return async (_req, res) => {
    const { status, headers, body } = readinessAnswer(await readiness());
    res.status(status).set(headers).set('cache-control', 'no-store').json(body);
  };
}
