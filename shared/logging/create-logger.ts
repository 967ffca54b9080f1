import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths that may carry secrets. pino removes them from every line, so a careless
 * `log.info({ config })` still cannot leak a key.
 */
const REDACT = [
  // Credentials of callers: HTTP headers and cookies, MQTT passwords, tokens, API keys.
  'password',
  '*.password',
  'authorization',
  '*.authorization',
  'cookie',
  '*.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers.cookie',
  'headers["x-api-key"]',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.headers["x-api-key"]',
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'apiKey',
  '*.apiKey',
  '*.apiKeys',
  // Our own secrets: the JWT secret, VAPID private keys.
  'secret',
  '*.secret',
  'jwtSecret',
  '*.jwtSecret',
  'privateKey',
  '*.privateKey',
  'vapidPrivateKey',
  '*.vapidPrivateKey',
  // A browser's subscription key material (RFC 8291 §3): with it anyone can read its pushes.
  'p256dh',
  '*.p256dh',
  '*.auth',
  'keys',
  '*.keys',
];

/**
 * One logger per process, created in `main.ts` and passed down; modules take child loggers.
 * JSON lines by default; `pretty` renders them for a person at a terminal when pino-pretty is
 * installed (it is a development dependency, absent from production images).
 */
export function createLogger(options: {
  level: string;
  name?: string;
  pretty?: boolean;
  /** Where lines go; stdout by default (tests capture them). */
  destination?: DestinationStream;
}): Logger {
  const settings = {
    level: options.level,
    base: { service: options.name ?? 'axion-push' },
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: serializeError },
  };
  if (options.pretty && prettyAvailable()) {
    return pino(settings, pino.transport({ target: 'pino-pretty', options: { ignore: 'pid,hostname,service', singleLine: true, sync: true } }));
  }
  return options.destination ? pino(settings, options.destination) : pino(settings);
}

/**
 * Database errors carry the statement and its bound values (subscription keys, VAPID private
 * keys); a log line keeps the message and the code, never the values.
 */
function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const serialized = pino.stdSerializers.err(err) as unknown as Record<string, unknown>;
  delete serialized['parameters'];
  delete serialized['query'];
  delete serialized['sql'];
  const driver = serialized['driverError'] as Record<string, unknown> | undefined;
  if (driver) serialized['driverError'] = { code: driver['code'], errno: driver['errno'] };
  return serialized;
}

function prettyAvailable(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}
