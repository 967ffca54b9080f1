import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths that may carry secrets. pino removes them from every line, so a careless
 * `log.info({ config })` still cannot leak a key.
 */
const REDACT = [
  'password',
  '*.password',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  '*.jwtSecret',
  '*.apiKeys',
  '*.privateKey',
  'privateKey',
  '*.p256dh',
  '*.auth',
  'keys',
  '*.keys',
];

/** One logger per process, created in `main.ts` and passed down; modules take child loggers. */
export function createLogger(options: { level: string; name?: string }): Logger {
  return pino({
    level: options.level,
    base: { service: options.name ?? 'axion-push' },
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
