import type { DataSource } from 'typeorm';
import { NotificationEntity } from '../entities/index.js';
import { affectedRows, checkedLimit } from './raw-sql.js';

/** A notification's place in the oldest-first walk of the retention. */
export interface NotificationPosition {
  id: string;
  createdAt: Date;
}

/** What the notification retention (`NOTIFICATION_RETENTION_DAYS`) reads and deletes. */
export interface NotificationRetentionStore {
  /**
   * Up to `limit` notifications accepted before `createdBefore` that no inbox item refers to,
   * oldest first, after `from` (the last of the previous batch) when given.
   */
  listUnreferencedBefore(
    createdBefore: Date,
    from: NotificationPosition | null,
    limit: number,
  ): Promise<NotificationPosition[]>;
  /**
   * Deletes these notifications by id, but none that an inbox item refers to by the time the
   * statement runs; answers how many went.
   */
  deleteUnreferenced(ids: readonly string[]): Promise<number>;
}

/** Short statements by key, the same SQL on MySQL/MariaDB and SQLite. */
export function createNotificationRetentionStore(dataSource: DataSource): NotificationRetentionStore {
  const { driver } = dataSource;
  const q = (identifier: string) => driver.escape(identifier);
  const createdColumn = dataSource.getMetadata(NotificationEntity).findColumnWithPropertyName('createdAt')!;
  // Dates through TypeORM's conversions, so SQLite's text form compares as the rows were written.
  const toDb = (date: Date) => driver.preparePersistentValue(date, createdColumn) as unknown;
  const [table, id, created] = [q('notification'), q('id'), q('created_at')];
  // The inbox's unique key (notification_id, user) answers this by index.
  const unreferenced = `NOT EXISTS (SELECT 1 FROM ${q('inbox_item')} i WHERE i.${q('notification_id')} = ${table}.${id})`;
  return {
    async listUnreferencedBefore(createdBefore, from, limit) {
      const after = from ? ` AND (${created} > ? OR (${created} = ? AND ${id} > ?))` : '';
      const params = [toDb(createdBefore)];
      if (from) params.push(toDb(from.createdAt), toDb(from.createdAt), from.id);
      const rows = (await dataSource.query(
        `SELECT ${id} AS id, ${created} AS createdAt FROM ${table} WHERE ${created} < ?${after} AND ${unreferenced} ` +
          `ORDER BY ${created}, ${id} LIMIT ${checkedLimit(limit)}`,
        params,
      )) as { id: string; createdAt: unknown }[];
      return rows.map((row) => ({
        id: row.id,
        createdAt: driver.prepareHydratedValue(row.createdAt, createdColumn) as Date,
      }));
    },
    async deleteUnreferenced(ids) {
      if (ids.length === 0) return 0;
      const sql = `DELETE FROM ${table} WHERE ${id} IN (${ids.map(() => '?').join(', ')}) AND ${unreferenced}`;
      return affectedRows(dataSource, sql, [...ids]);
    },
  };
}
