import express, { type Request, type RequestHandler } from 'express';
import { AppError, UnsupportedMediaTypeError } from '../../shared/errors/index.js';
import { jsonTextProblem } from '../../shared/events/index.js';

/** Largest JSON body: an event fits in 4 KB; the rest is headroom for `data` and names. */
export const BODY_LIMIT = '64kb';

const JSON_TYPES = ['application/json', 'application/*+json'];

/** A body is coming: `Content-Length: 0`, which clients send on an empty POST, is none. */
function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/**
 * Reads JSON request bodies, and only JSON: another media type is 415 rather than a body the
 * route would see as missing; a charset other than UTF-8 is 415 (RFC 8259 §8.1); a body over
 * `BODY_LIMIT` (after any Content-Encoding is undone) is 413; bytes that are not UTF-8 or
 * nesting deeper than `MAX_JSON_DEPTH` are 400, checked before parsing. The error handler maps
 * each of these.
 */
export function jsonBody(): RequestHandler[] {
  const onlyJson: RequestHandler = (req, _res, next) => {
    if (hasBody(req) && !req.is(JSON_TYPES)) {
      next(new UnsupportedMediaTypeError('the body must be JSON (Content-Type: application/json)'));
      return;
    }
    next();
  };
  const parse = express.json({
    limit: BODY_LIMIT,
    type: JSON_TYPES,
    verify: (_req, _res, bytes, encoding) => {
      if (encoding !== 'utf-8' && encoding !== 'utf8') throw new UnsupportedMediaTypeError('JSON must be sent as UTF-8');
      const problem = jsonTextProblem(bytes);
      if (problem) throw new AppError(problem.code, problem.message, 400);
    },
  });
  return [onlyJson, parse];
}
