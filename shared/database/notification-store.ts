import { In, type DataSource } from 'typeorm';
import { NotificationEntity, type NotificationRow } from '../entities/index.js';
import type { RouteJob } from '../events/index.js';
import { affectedRows } from './raw-sql.js';
import { isDuplicateKey } from './subscription-store.js';

/** Accepted events, by id. */
export interface NotificationStore {
  /**
   * Records an accepted event. Returns the row already stored under that id when there is one
   * (a producer retrying), so the caller can tell a retry from a clash.
   */
  record(job: RouteJob): Promise<{ created: true } | { created: false; existing: NotificationRow }>;
  /**
   * Records many accepted events with one insert (rows whose id is taken are left alone).
   * Answers `created` when every row went in; otherwise the row stored under each id, new or
   * earlier, for the caller to compare.
   */
  recordMany(jobs: readonly RouteJob[]): Promise<'created' | Map<string, NotificationRow>>;
  get(id: string): Promise<NotificationRow | null>;
}

/** The row an accepted event is kept as: target and event as JSON, compared as text on a repeat. */
export function notificationRow(job: RouteJob): NotificationRow {
  return {
    id: job.id,
    package: job.package,
    target: JSON.stringify(job.target),
    event: JSON.stringify(job.event),
    source: job.source,
    createdAt: new Date(job.acceptedAt),
  };
}

export function createNotificationStore(dataSource: DataSource): NotificationStore {
  const repo = dataSource.getRepository(NotificationEntity);
  return {
    async record(job) {
      try {
        await repo.insert(notificationRow(job));
        return { created: true };
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        const existing = await repo.findOneBy({ id: job.id });
        if (!existing) throw err;
        return { created: false, existing };
      }
    },
    async recordMany(jobs) {
      if (jobs.length === 0) return 'created';
      const rows = new Map<string, NotificationRow>();
      for (const job of jobs) if (!rows.has(job.id)) rows.set(job.id, notificationRow(job));
      const inserted = await insertIgnoringTaken(dataSource, [...rows.values()]);
      // An id was taken, or came twice: read what is stored under each, for the caller to compare.
      if (inserted === jobs.length) return 'created';
      const stored = await repo.findBy({ id: In([...rows.keys()]) });
      return new Map(stored.map((row) => [row.id, row]));
    },
    get: (id) => repo.findOneBy({ id }),
  };
}

/**
 * One multi-row insert that skips rows whose id is taken; answers how many went in. Written as
 * SQL because TypeORM's query builder spends about 150 µs of CPU per row on a many-row insert
 * (docs/performance.md, bench:realtime); values still go through TypeORM's column conversions.
 */
async function insertIgnoringTaken(dataSource: DataSource, rows: NotificationRow[]): Promise<number> {
  const { driver } = dataSource;
  const columns = dataSource.getMetadata(NotificationEntity).columns;
  const verb = driver.options.type === 'better-sqlite3' ? 'INSERT OR IGNORE' : 'INSERT IGNORE';
  const tuple = `(${columns.map(() => '?').join(', ')})`;
  const sql = `${verb} INTO ${driver.escape('notification')} (${columns.map((c) => driver.escape(c.databaseName)).join(', ')}) VALUES ${rows.map(() => tuple).join(', ')}`;
  const values = rows.flatMap((row) => columns.map((c) => driver.preparePersistentValue(c.getEntityValue(row), c) as unknown));
  return affectedRows(dataSource, sql, values);
}
