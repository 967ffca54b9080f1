import { isIP } from 'node:net';
import { z } from 'zod';

/** Requests per minute the HTTP API takes from each caller; 0 turns that limit off. */
export interface RateLimitSettings {
  /** Per signed-in user, whatever the package (`RATE_LIMIT_USER_PER_MINUTE`). */
  userPerMinute: number;
  /** Per service or admin API key (`RATE_LIMIT_SERVICE_PER_MINUTE`). */
  servicePerMinute: number;
  /** Per client address, for requests that carry no credentials we accept (`RATE_LIMIT_IP_PER_MINUTE`). */
  ipPerMinute: number;
}

const perMinute = (fallback: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number (0 turns the limit off)')
    .transform(Number)
    .pipe(z.number().int().max(100_000_000))
    .default(fallback);

/**
 * The HTTP API's rate limits and the proxies it trusts. The defaults are far above what a
 * browser or a producer sends in normal use and above what the test suite sends.
 */
export const httpLimitSettings = {
  RATE_LIMIT_USER_PER_MINUTE: perMinute(600),
  RATE_LIMIT_SERVICE_PER_MINUTE: perMinute(12_000),
  RATE_LIMIT_IP_PER_MINUTE: perMinute(600),
  HTTP_TRUSTED_PROXIES: z
    .string()
    .transform((v) => v.split(',').map((a) => a.trim()).filter(Boolean))
    .refine((addresses) => addresses.every((a) => isIP(a) !== 0), 'must be comma-separated IP addresses')
    .optional(),
};

type HttpLimitEnv = z.output<z.ZodObject<typeof httpLimitSettings>>;

export function toRateLimitSettings(e: HttpLimitEnv): RateLimitSettings {
  return {
    userPerMinute: e.RATE_LIMIT_USER_PER_MINUTE,
    servicePerMinute: e.RATE_LIMIT_SERVICE_PER_MINUTE,
    ipPerMinute: e.RATE_LIMIT_IP_PER_MINUTE,
  };
}
