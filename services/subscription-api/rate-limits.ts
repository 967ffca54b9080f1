import { createHash } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import type { Redis } from 'ioredis';
import { bearerToken, type Authenticator } from '../../shared/auth/index.js';
import type { RateLimitSettings } from '../../shared/config/index.js';
import { RateLimitedError } from '../../shared/errors/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { presentedService, requestUser } from './request-callers.js';

export interface RateLimitDeps {
  /** Where the counts live, shared by every API instance. */
  redis: Redis;
  /** Key prefix (the queue prefix): counts are under `<prefix>:rl:<kind>:`. */
  prefix: string;
  auth: Authenticator;
  settings: RateLimitSettings;
  log: Logger;
}

type CallerKind = 'user' | 'service' | 'address';

const WINDOW_MS = 60_000;
/** One warning per interval while Redis cannot count, not one per request. */
const WARN_EVERY_MS = 10_000;

/**
 * A fixed window: the first request of a window sets the count to 1 with the window's expiry;
 * later ones add 1. Answers the count and the window's milliseconds left. (The script
 * rate-limit-redis ran, in one call: ioredis sends it by SHA and loads it again when Redis lost
 * it, e.g. after a restart.)
 */
const COUNT_SCRIPT = `
local left = redis.call("PTTL", KEYS[1])
if left <= 0 then
  redis.call("SET", KEYS[1], 1, "PX", ARGV[1])
  return { 1, tonumber(ARGV[1]) }
end
return { redis.call("INCR", KEYS[1]), left }`;

type CountingRedis = Redis & { axionRateCount(key: string, windowMs: number): Promise<[number, number]> };

const hashed = (secret: string) => createHash('sha256').update(secret).digest('base64url');

/**
 * Whom a request counts against: the API key it presents (by its hash: the key itself never
 * reaches Redis or a log line), else the user its credentials sign in, else its address. The
 * credentials are checked, not just read (unchecked ones would let a caller spend another
 * user's allowance with a forged token, or escape its own with a random one), and the route
 * reuses this check (`request-callers.ts`).
 */
async function callerOf(auth: Authenticator, req: Request, res: Response): Promise<{ kind: CallerKind; key: string }> {
  const service = presentedService(auth, req, res);
  if (service) return { kind: 'service', key: hashed((req.header('x-api-key') ?? bearerToken(req.headers.authorization))!) };
  if (req.headers.authorization !== undefined || req.headers.cookie !== undefined) {
    try {
      return { kind: 'user', key: (await requestUser(auth, req, res)).user };
    } catch {
      // Refused (the route answers 401) or not known now (503): counted by address.
    }
  }
  return { kind: 'address', key: ipKeyGenerator(req.ip ?? 'unknown', 56) };
}

/**
 * Per-caller request limits over a fixed one-minute window, counted in Redis (one script call
 * per request) so that every API instance shares them. Beyond a limit the answer is 429
 * `rate_limited` with `Retry-After`; every counted answer carries the `RateLimit-Policy` and
 * `RateLimit` headers of the IETF draft 7. When Redis cannot count, requests pass (a warning
 * is logged): see docs/decisions.md.
 */
export function createRateLimits(deps: RateLimitDeps): RequestHandler {
  const log = deps.log.child({ part: 'rate-limits' });
  const limits: Record<CallerKind, number> = {
    user: deps.settings.userPerMinute,
    service: deps.settings.servicePerMinute,
    address: deps.settings.ipPerMinute,
  };
  if (!limits.user && !limits.service && !limits.address) return (_req, _res, next) => next();
  const redis = deps.redis as CountingRedis;
  if (typeof redis.axionRateCount !== 'function') redis.defineCommand('axionRateCount', { numberOfKeys: 1, lua: COUNT_SCRIPT });
  const policies = {
    user: `${limits.user};w=${WINDOW_MS / 1000}`,
    service: `${limits.service};w=${WINDOW_MS / 1000}`,
    address: `${limits.address};w=${WINDOW_MS / 1000}`,
  };
  let lastWarned = 0;
  const warn = (err: unknown) => {
    if (Date.now() - lastWarned < WARN_EVERY_MS) return;
    lastWarned = Date.now();
    log.warn({ err: (err as Error).message }, 'rate limits not counted (Redis unavailable): requests pass unlimited');
  };

  return async (req, res, next) => {
    const caller = await callerOf(deps.auth, req, res);
    const limit = limits[caller.kind];
    if (!limit) return next();
    let count: number;
    let leftMs: number;
    try {
      [count, leftMs] = await redis.axionRateCount(`${deps.prefix}:rl:${caller.kind}:${caller.key}`, WINDOW_MS);
    } catch (err) {
      warn(err);
      return next();
    }
    const seconds = Math.max(1, Math.ceil(leftMs / 1000));
    res.setHeader('RateLimit-Policy', policies[caller.kind]);
    res.setHeader('RateLimit', `limit=${limit}, remaining=${Math.max(0, limit - count)}, reset=${seconds}`);
    if (count <= limit) return next();
    return next(new RateLimitedError(`more than ${limit} requests a minute; try again in ${seconds} s`, seconds));
  };
}
