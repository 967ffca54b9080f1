import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import { Router, type RequestHandler } from 'express';
import { ForbiddenError, UnauthenticatedError } from '../../shared/errors/index.js';
import type { Authenticator } from '../../shared/auth/index.js';

type BoardAdapter = Parameters<typeof createBullBoard>[0]['serverAdapter'];

/** Where the board is mounted (the contract's `/admin/queues`). */
export const QUEUE_BOARD_PATH = '/admin/queues';

/**
 * The page pulls its fonts from fonts.googleapis.com; an operator's browser should reach
 * nothing but this API from an admin page, so everything off-origin is refused (the page falls
 * back to system fonts). Inline styles are the page's own loading indicator.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'self'",
  "form-action 'self'",
].join('; ');

/**
 * bull-board at `/admin/queues`, for admin API keys that cover every package (job data holds
 * any package's users and messages). The key comes as `X-API-Key`, `Authorization: Bearer`, or
 * as the password of HTTP Basic, which is what a browser can be asked for.
 */
export function queueBoardRoutes(deps: { auth: Authenticator; queues: readonly Queue[] }): Router {
  const adapter = new ExpressAdapter().setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: deps.queues.map((queue) => new BullMQAdapter(queue)),
    // @bull-board/express 9.10.1 pins its own @bull-board/api 9.10.1 beside our 9.10.2: the two
    // adapter types differ only in a private field, so they do not unify (FACTS.md).
    serverAdapter: adapter as unknown as BoardAdapter,
    options: { uiConfig: { boardTitle: 'axion-push queues' } },
  });
  const router = Router();
  router.use(QUEUE_BOARD_PATH, requireAdmin(deps.auth), refuseCrossSite, (_req, res, next) => {
    res.set('content-security-policy', CONTENT_SECURITY_POLICY);
    res.set('cache-control', 'no-store');
    next();
  });
  router.use(QUEUE_BOARD_PATH, adapter.getRouter() as RequestHandler);
  return router;
}

function requireAdmin(auth: Authenticator): RequestHandler {
  return (req, res, next) => {
    try {
      const caller = auth.service(req.headers.authorization, req.header('x-api-key') ?? basicPassword(req.headers.authorization));
      if (!caller.admin || caller.packages !== '*') {
        throw new ForbiddenError('the queue board needs an admin key for all packages');
      }
      next();
    } catch (err) {
      // A browser shows its login prompt only when asked for Basic credentials.
      if (err instanceof UnauthenticatedError) res.set('www-authenticate', 'Basic realm="axion-push admin", charset="UTF-8"');
      next(err);
    }
  };
}

/**
 * A browser sends cached Basic credentials with requests other sites' pages make, and some
 * board actions (pause, empty, obliterate) need no body: changes must come from the board's own
 * page. Browsers mark where a request comes from (`Sec-Fetch-Site`, `Origin`); tools send neither.
 */
const refuseCrossSite: RequestHandler = (req, _res, next) => {
  if (req.method === 'GET' || req.method === 'HEAD') return next();
  const site = req.header('sec-fetch-site');
  const origin = req.header('origin');
  // By host alone: behind a TLS-terminating proxy the API itself sees plain http.
  const sameOrigin = origin === undefined || hostOf(origin) === req.header('host');
  if ((site !== undefined && site !== 'same-origin') || !sameOrigin) {
    return next(new ForbiddenError('queue board changes must come from the board itself'));
  }
  next();
};

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}

/** The password of `Authorization: Basic …` (the user name is ignored: the key says who). */
function basicPassword(authorization: string | undefined): string | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(authorization ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1) || undefined;
}
