import type { DataSource } from 'typeorm';
import type { Logger } from '../logging/index.js';

/** How long queries fail at once after a connection to the database failed. */
export const UNREACHABLE_PAUSE_MS = 1_000;

/** Failures to reach the server at all, as opposed to a statement the server refused. */
const CONNECTION_FAILURES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'EPIPE', 'PROTOCOL_CONNECTION_LOST', 'ER_CON_COUNT_ERROR',
]);

type GetConnection = (callback: (err: (Error & { code?: string }) | null, connection?: unknown) => void) => void;

/**
 * While MySQL cannot be reached, fails at once instead of trying a new connection for every
 * query: for `UNREACHABLE_PAUSE_MS` after a connection attempt failed, the pool answers with
 * that failure (same `code`, so callers map it as before: the API to 503 with `Retry-After`);
 * the first query after the pause tries again. Logs once when the database goes and once when
 * it is back, not once per query. SQLite (no pool) is left as it is.
 */
export function failFastWhileUnreachable(dataSource: DataSource, log: Logger): void {
  const pool = (dataSource.driver as unknown as { pool?: { getConnection: GetConnection } }).pool;
  if (!pool) return;
  const getConnection = pool.getConnection.bind(pool);
  let unreachable: (Error & { code?: string }) | undefined;
  let retryAt = 0;
  pool.getConnection = (callback) => {
    if (unreachable && Date.now() < retryAt) {
      callback(unreachable);
      return;
    }
    getConnection((err, connection) => {
      if (err && CONNECTION_FAILURES.has(err.code ?? '')) {
        if (!unreachable) {
          log.warn({ code: err.code, err: err.message, pauseMs: UNREACHABLE_PAUSE_MS }, 'database unreachable: queries fail at once until it answers');
          unreachable = Object.assign(new Error(`the database is unreachable (${String(err.code)})`), { code: err.code });
        }
        retryAt = Date.now() + UNREACHABLE_PAUSE_MS;
      } else if (!err && unreachable) {
        unreachable = undefined;
        log.info('database reachable again');
      }
      callback(err, connection);
    });
  };
}
