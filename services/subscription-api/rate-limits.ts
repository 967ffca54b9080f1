import { createHash } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, rateLimit, type RateLimitInfo } from 'express-rate-limit';
import type { Redis } from 'ioredis';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import type { Authenticator } from '../../shared/auth/index.js';
import type { RateLimitSettings } from '../../shared/config/index.js';
import { RateLimitedError } from '../../shared/errors/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { presentedKey, presentedService, requestUser } from './request-callers.js';

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
/** One warning per interval while the store fails, not one per request. */
const WARN_EVERY_MS = 10_000;

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
  if (service) return { kind: 'service', key: hashed(presentedKey(req)!) };
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
 * rate-limit-redis loads its Lua scripts at start and keeps the promise: a load made before
 * the connection was up, or while Redis was down, would stay rejected and fail every later
 * count. Here the scripts are loaded at the first count, and again after any failure.
 */
class ReloadingRedisStore extends RedisStore {
  private loaded = false;

  override async init(options: { windowMs: number }): Promise<void> {
    this.windowMs = options.windowMs;
  }

  override async increment(key: string) {
    if (!this.loaded) {
      this.loaded = true;
      this.incrementScriptSha = this.loadIncrementScript();
      this.getScriptSha = this.loadGetScript();
      // Awaited by the counts that use them; a failure is reported there.
      this.incrementScriptSha.catch(() => undefined);
      this.getScriptSha.catch(() => undefined);
    }
    try {
      return await super.increment(key);
    } catch (err) {
      this.loaded = false;
      throw err;
    }
  }
}

/**
 * Per-caller request limits over a fixed one-minute window, counted in Redis so that every
 * API instance shares them (express-rate-limit with rate-limit-redis). Beyond a limit the
 * answer is 429 `rate_limited` with `Retry-After`. When Redis cannot count, requests pass
 * (a warning is logged): see docs/decisions.md.
 */
export function createRateLimits(deps: RateLimitDeps): RequestHandler {
  const log = deps.log.child({ part: 'rate-limits' });
  let lastWarned = 0;
  const logger = {
    error: (err: unknown) => {
      if (Date.now() - lastWarned < WARN_EVERY_MS) return;
      lastWarned = Date.now();
      log.warn({ err: (err as Error).message }, 'rate limits not counted (Redis unavailable): requests pass unlimited');
    },
    warn: (err: unknown, message?: string) => log.warn({ err: (err as Error).message }, message ?? 'rate limiter warning'),
  };
  const limiter = (kind: CallerKind, perMinute: number): RequestHandler | undefined => {
    if (perMinute === 0) return undefined;
    return rateLimit({
      windowMs: WINDOW_MS,
      limit: perMinute,
      standardHeaders: 'draft-7',
      legacyHeaders: false,
      passOnStoreError: true,
      logger,
      store: new ReloadingRedisStore({
        prefix: `${deps.prefix}:rl:${kind}:`,
        sendCommand: (command: string, ...args: string[]) => deps.redis.call(command, ...args) as Promise<RedisReply>,
      }),
      keyGenerator: (_req, res) => res.locals['rateLimitKey'] as string,
      handler: (req, _res, next) => {
        const { resetTime } = (req as Request & { rateLimit: RateLimitInfo }).rateLimit;
        const seconds = resetTime ? Math.max(1, Math.ceil((resetTime.getTime() - Date.now()) / 1000)) : 60;
        next(new RateLimitedError(`more than ${perMinute} requests a minute; try again in ${seconds} s`, seconds));
      },
    });
  };
  const limiters: Record<CallerKind, RequestHandler | undefined> = {
    user: limiter('user', deps.settings.userPerMinute),
    service: limiter('service', deps.settings.servicePerMinute),
    address: limiter('address', deps.settings.ipPerMinute),
  };
  if (!limiters.user && !limiters.service && !limiters.address) return (_req, _res, next) => next();
  return async (req, res, next) => {
    const caller = await callerOf(deps.auth, req, res);
    const limit = limiters[caller.kind];
    if (!limit) return next();
    res.locals['rateLimitKey'] = caller.key;
    return limit(req, res, next);
  };
}
