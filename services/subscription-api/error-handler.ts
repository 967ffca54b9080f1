import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';
import { AppError, RateLimitedError, UnavailableError } from '../../shared/errors/index.js';
import type { Logger } from '../../shared/logging/index.js';

/** Every error answer of the API: `{ error: { code, message } }`. */
export const errorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});

const errorBody = (code: string, message: string): z.infer<typeof errorBodySchema> => ({ error: { code, message } });

// Errors raised by body-parser carry a `type` and a status of their own.
const BODY_PARSER_ERRORS: Record<string, { status: number; code: string; message: string }> = {
  'entity.parse.failed': { status: 400, code: 'invalid_json', message: 'the body is not valid JSON' },
  'entity.too.large': { status: 413, code: 'too_large', message: 'the body is too large' },
  'encoding.unsupported': { status: 415, code: 'unsupported_encoding', message: 'unsupported content encoding' },
  'charset.unsupported': { status: 415, code: 'unsupported_charset', message: 'unsupported charset' },
};

// Connection-level failures of MySQL, SQLite or Redis: the dependency is down, not the request.
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'PROTOCOL_CONNECTION_LOST',
  'ER_CON_COUNT_ERROR', 'SQLITE_BUSY', 'ER_LOCK_WAIT_TIMEOUT', 'ER_LOCK_DEADLOCK',
]);

function isUnavailable(err: unknown): boolean {
  const e = err as { code?: string; driverError?: { code?: string }; message?: string; name?: string };
  const code = e.driverError?.code ?? e.code;
  if (code && UNAVAILABLE_CODES.has(code)) return true;
  // ioredis with no offline queue, and BullMQ while Redis is gone.
  return /Stream isn't writeable|Connection is closed|MaxRetriesPerRequest/i.test(e.message ?? '');
}

/**
 * A client error raised by Express's router or body-parser (a path parameter that does not
 * decode, a body cut short, a compressed body that does not inflate): its own 4xx.
 */
function clientError(err: unknown): { status: number; code: string; message: string } | null {
  const e = err as { type?: string; status?: unknown; message?: string };
  const known = BODY_PARSER_ERRORS[e.type ?? ''];
  if (known) return known;
  // The router's URIError for a bad `%` escape has a status but no `expose`.
  if (typeof e.status !== 'number' || e.status < 400 || e.status > 499) return null;
  return { status: e.status, code: 'bad_request', message: e.message ?? 'bad request' };
}

/** One warning per interval while a dependency is down, not one per request. */
const UNAVAILABLE_WARN_EVERY_MS = 10_000;

/**
 * The one place where errors become HTTP answers: `{ error: { code, message } }`. 429 and 503
 * carry `Retry-After`; 503s are logged at most once per 10 s, with how many were not. An
 * unexpected error is a bug: 500, logged with its stack, never shown to the caller.
 */
export function createErrorHandler(log: Logger): ErrorRequestHandler {
  let quietUntil = 0;
  let unlogged = 0;
  const warnUnavailable = (err: unknown, requestId: string | undefined, route: string) => {
    if (Date.now() < quietUntil) {
      unlogged += 1;
      return;
    }
    quietUntil = Date.now() + UNAVAILABLE_WARN_EVERY_MS;
    const e = err as { message?: string; code?: string };
    log.warn({ err: e.message, code: e.code, requestId, route, unloggedBefore: unlogged }, 'dependency unavailable');
    unlogged = 0;
  };
  return (err: unknown, req, res, _next) => {
    const requestId = res.locals['requestId'] as string | undefined;
    const known = err instanceof AppError ? err : isUnavailable(err) ? new UnavailableError('a dependency is unavailable; try again shortly') : null;
    if (known) {
      if (known instanceof UnavailableError || known instanceof RateLimitedError) {
        res.set('retry-after', String(known.retryAfterSeconds));
      }
      if (known instanceof UnavailableError) warnUnavailable(err, requestId, req.path);
      res.status(known.httpStatus).json(errorBody(known.code, known.message));
      return;
    }
    const client = clientError(err);
    if (client) {
      res.status(client.status).json(errorBody(client.code, client.message));
      return;
    }
    log.error({ err, requestId, method: req.method, route: req.path }, 'unhandled error');
    res.status(500).json(errorBody('internal', 'internal error'));
  };
}

export const notFoundHandler: RequestHandler = (req, res) => {
  res.status(404).json(errorBody('not_found', `no route ${req.method} ${req.path}`));
};
