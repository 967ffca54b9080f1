import { createHash } from 'node:crypto';
import type { Logger } from '../logging/index.js';
import { createAnswerCache } from '../answer-cache/index.js';
import { toUserCaller, type UserCredentials } from './credentials.js';
import type { UserCheck } from './user-check.js';

export interface WebhookUserOptions {
  /** `AUTH_WEBHOOK_URL`: asked with the caller's Cookie and Authorization headers. */
  url: string;
  /** Deadline of one call, answer included. */
  timeoutMs: number;
  /** How long an answer (a user or a refusal) is reused for the same credentials. */
  cacheMs: number;
  /** Most credentials remembered at once. */
  maxCacheEntries?: number;
}

/** Refusals are kept shorter: someone who just signed in should not wait out a stale 401. */
const MAX_REFUSAL_CACHE_MS = 5_000;

/**
 * Asks the application's auth webhook who the credentials belong to. 200 with
 * `{ userId, packages }` is a user; 401 or 403 a refusal; anything else (a timeout, a
 * connection error, another status, a malformed answer) means "could not tell", never a user.
 */
export function createWebhookUsers(
  options: WebhookUserOptions,
  log?: Logger,
): (credentials: UserCredentials) => Promise<UserCheck> {
  const cache = createAnswerCache<UserCheck>({ maxEntries: options.maxCacheEntries ?? 10_000 });

  async function ask(credentials: UserCredentials): Promise<{ value: UserCheck; ttlMs: number }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (credentials.authorization) headers['authorization'] = credentials.authorization;
    if (credentials.cookie) headers['cookie'] = credentials.cookie;
    try {
      const res = await fetch(options.url, {
        headers,
        // A redirect could carry the credentials elsewhere; the webhook answers itself.
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      if (res.status === 401 || res.status === 403) {
        await res.body?.cancel();
        const ttlMs = Math.min(options.cacheMs, MAX_REFUSAL_CACHE_MS);
        return { value: { refused: 'the auth webhook refused the credentials' }, ttlMs };
      }
      if (res.status !== 200) {
        await res.body?.cancel();
        log?.warn({ status: res.status }, 'auth webhook answered an unexpected status');
        return { value: { unavailable: 'the auth webhook failed' }, ttlMs: 0 };
      }
      const body = (await res.json()) as { userId?: unknown; packages?: unknown };
      const caller = toUserCaller(body?.userId, body?.packages);
      if (typeof caller === 'string') {
        log?.warn({ problem: caller }, 'auth webhook answered 200 without a usable user');
        return { value: { unavailable: 'the auth webhook answered something unusable' }, ttlMs: 0 };
      }
      return { value: { caller }, ttlMs: options.cacheMs };
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError';
      log?.warn({ err: (err as Error).message, timedOut }, 'auth webhook did not answer');
      return { value: { unavailable: timedOut ? 'the auth webhook did not answer in time' : 'the auth webhook is unreachable' }, ttlMs: 0 };
    }
  }

  return (credentials) => {
    // Keyed by a digest, so the cache holds no credentials in the clear.
    const key = createHash('sha256')
      .update(`${credentials.authorization ?? ''}\n${credentials.cookie ?? ''}`)
      .digest('base64url');
    return cache.get(key, () => ask(credentials));
  };
}
