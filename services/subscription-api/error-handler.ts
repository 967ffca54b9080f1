import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, UnavailableError } from '../../shared/errors/index.js';
import type { Logger } from '../../shared/logging/index.js';

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
 * The one place where errors become HTTP answers: `{ error: { code, message } }`. An
 * unexpected error is a bug: 500, logged with its stack, never shown to the caller.
 */
export function createErrorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const requestId = res.locals['requestId'] as string | undefined;
    const parserError = BODY_PARSER_ERRORS[(err as { type?: string }).type ?? ''];
    if (parserError) {
      res.status(parserError.status).json({ error: { code: parserError.code, message: parserError.message } });
      return;
    }
    const known = err instanceof AppError ? err : isUnavailable(err) ? new UnavailableError('a dependency is unavailable; try again shortly') : null;
    if (known) {
      if (known instanceof UnavailableError) {
        res.set('retry-after', String(known.retryAfterSeconds));
        log.warn({ err, requestId, route: req.path }, 'dependency unavailable');
      }
      res.status(known.httpStatus).json({ error: { code: known.code, message: known.message } });
      return;
    }
    log.error({ err, requestId, method: req.method, route: req.path }, 'unhandled error');
    res.status(500).json({ error: { code: 'internal', message: 'internal error' } });
  };
}

export const notFoundHandler: RequestHandler = (req, res) => {
  res.status(404).json({ error: { code: 'not_found', message: `no route ${req.method} ${req.path}` } });
};
