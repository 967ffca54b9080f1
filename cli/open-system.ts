import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { loadConfig, readEnv, redactUrl, requireSetting, type Config } from '../shared/config/index.js';
import { createDataSource, runMigrations } from '../shared/database/index.js';
import { createLogger, type Logger } from '../shared/logging/index.js';
import { connectRedis } from '../shared/queue/index.js';
import { CliError } from './cli-error.js';

/** How long the CLI waits for Redis before it gives up with a message naming REDIS_URL. */
const REDIS_CONNECT_TIMEOUT_MS = 5_000;

/** What a command that talks to the running system gets: its settings, database and Redis. */
export interface System {
  config: Config;
  dataSource: DataSource;
  redis: Redis;
  log: Logger;
}

/** The services' settings: the environment over `.env` in the working directory. */
export function loadCliConfig(): Config {
  return loadConfig(readEnv(process.env));
}

/**
 * The CLI's logger: silent. Its output is its answer (stdout) and one line per failure
 * (stderr); library warnings such as Redis reconnect attempts would only repeat that line.
 */
function cliLogger(): Logger {
  return createLogger({ level: 'silent', name: 'axion-push-cli' });
}

/**
 * Opens `DATABASE_URL` with pending migrations applied (as every service does at start), runs
 * `work`, and closes it again. An unreachable database is a one-line failure naming the setting.
 */
export async function withDatabase<T>(
  config: Config,
  work: (dataSource: DataSource, applied: string[]) => Promise<T>,
): Promise<T> {
  const dataSource = createDataSource(config.database);
  try {
    await dataSource.initialize();
  } catch (err) {
    throw new CliError(
      `cannot reach the database at DATABASE_URL (${redactUrl(config.database.url)}): ${oneLine(err)}`,
    );
  }
  try {
    return await work(dataSource, await runMigrations(dataSource));
  } finally {
    await dataSource.destroy();
  }
}

/** `withDatabase` plus the shared Redis (`REDIS_URL`), for commands that hand work to the services. */
export async function withSystem<T>(config: Config, work: (system: System) => Promise<T>): Promise<T> {
  const url = requireSetting(
    config.redis.url,
    'REDIS_URL',
    'set it to the Redis the services share (the all-in-one\'s private Redis is not reachable from outside)',
  );
  const log = cliLogger();
  const redis = await openRedis(url, log);
  try {
    return await withDatabase(config, (dataSource) => work({ config, dataSource, redis, log }));
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

async function openRedis(url: string, log: Logger): Promise<Redis> {
  const redis = connectRedis(url, { log, role: 'cli', failFast: true });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer within ${REDIS_CONNECT_TIMEOUT_MS / 1000} s`)), REDIS_CONNECT_TIMEOUT_MS);
      redis.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
      redis.once('error', (err: Error) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  } catch (err) {
    redis.disconnect();
    throw new CliError(`cannot reach Redis at REDIS_URL (${redactUrl(url)}): ${oneLine(err)}`);
  }
  return redis;
}

/** A driver's error as one line (some span several, e.g. an AggregateError's list). */
function oneLine(err: unknown): string {
  const e = err as Error & { code?: string; errors?: Error[] };
  const message = e.message || e.errors?.[0]?.message || e.code || String(err);
  return message.split('\n')[0]!;
}
