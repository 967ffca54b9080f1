import type { DataSource } from 'typeorm';
import { InboxItemEntity, NotificationEntity } from '../entities/index.js';
import { affectedRows, checkedLimit } from './raw-sql.js';

/** One notification for one user, as routing hands it to the inbox. */
export interface InboxEntry {
  notificationId: string;
  package: string;
  user: string;
}

/** An item's place in a user's inbox: pages start next to it, never including it. */
export interface InboxPosition {
  createdAt: Date;
  /** The item's id: a decimal integer. */
  id: string;
}

export type InboxState = 'unseen' | 'seen' | 'all';

export interface InboxPageQuery {
  state: InboxState;
  /** Items older than this one, newest first. */
  before?: InboxPosition;
  /** Items newer than this one, oldest first (so a catch-up never skips one). */
  after?: InboxPosition;
  limit: number;
}

/** An inbox item with what its Message is built from. */
export interface InboxItemView {
  id: string;
  notificationId: string;
  createdAt: Date;
  seenAt: Date | null;
  /** The notification's stored event (JSON, without its id). */
  event: string;
  /** When the notification was accepted: its Message's `createdAt`. */
  acceptedAt: Date;
}

/** Which unseen items of a user to mark seen: these ids, or everything up to an item. */
export type SeenSelection = { ids: readonly string[] } | { upTo: InboxPosition };

/** Users' inboxes (`inbox_item`, notification × user). */
export interface InboxStore {
  /**
   * Puts each entry in its user's inbox, with one multi-row insert; an entry already there
   * (the same notification and user) is left alone. Answers how many went in.
   */
  add(entries: readonly InboxEntry[], at: Date): Promise<number>;
  /** Unseen items per user of the package, one grouped count; users without any are absent. */
  countUnseen(pkg: string, users: readonly string[]): Promise<Map<string, number>>;
  /** One page of a user's items: newest first, or oldest first with `after`. */
  list(pkg: string, user: string, query: InboxPageQuery): Promise<InboxItemView[]>;
  /** Marks unseen items of the user seen at `at`; answers how many changed. */
  markSeen(pkg: string, user: string, which: SeenSelection, at: Date): Promise<number>;
  /**
   * Deletes up to `limit` items seen before `seenBefore`, oldest first, as short statements;
   * answers how many. Call again while it answers `limit`.
   */
  purgeSeen(seenBefore: Date, limit: number): Promise<number>;
}

/** Users per counting or inserting statement (well under SQLite's 32,766 parameters). */
const CHUNK = 1_000;

/** Plain SQL throughout: every write sits on the routing path, where TypeORM's builder costs more than the query. */
export function createInboxStore(dataSource: DataSource): InboxStore {
  const { driver } = dataSource;
  const q = (identifier: string) => driver.escape(identifier);
  const meta = dataSource.getMetadata(InboxItemEntity);
  const createdColumn = meta.findColumnWithPropertyName('createdAt')!;
  const seenColumn = meta.findColumnWithPropertyName('seenAt')!;
  const acceptedColumn = dataSource.getMetadata(NotificationEntity).findColumnWithPropertyName('createdAt')!;
  // Dates go in and come out through TypeORM's conversions, so SQLite's text form compares and
  // reads back exactly as the rows TypeORM writes elsewhere.
  const toDb = (date: Date) => driver.preparePersistentValue(date, createdColumn) as unknown;
  const [item, table, pkgCol, userCol, idCol, createdCol, seenCol] = [
    'i', q('inbox_item'), q('package'), q('user'), q('id'), q('created_at'), q('seen_at'),
  ];
  const insertVerb = driver.options.type === 'better-sqlite3' ? 'INSERT OR IGNORE' : 'INSERT IGNORE';

  const run = (sql: string, params: unknown[]) => affectedRows(dataSource, sql, params);

  /** `created_at, id` strictly before (`<`) or after (`>`) a position; `<=` to include it. */
  function keyset(op: '<' | '>' | '<=', at: InboxPosition, prefix = ''): { sql: string; params: unknown[] } {
    const strict = op === '<=' ? '<' : op;
    return {
      sql: ` AND (${prefix}${createdCol} ${strict} ? OR (${prefix}${createdCol} = ? AND ${prefix}${idCol} ${op} ?))`,
      params: [toDb(at.createdAt), toDb(at.createdAt), Number(at.id)],
    };
  }

  return {
    async add(entries, at) {
      if (entries.length === 0) return 0;
      const when = toDb(at);
      const sql =
        `${insertVerb} INTO ${table} (${q('notification_id')}, ${pkgCol}, ${userCol}, ${createdCol}) VALUES ` +
        entries.map(() => '(?, ?, ?, ?)').join(', ');
      return run(sql, entries.flatMap((e) => [e.notificationId, e.package, e.user, when]));
    },

    async countUnseen(pkg, users) {
      const counts = new Map<string, number>();
      for (let i = 0; i < users.length; i += CHUNK) {
        const chunk = users.slice(i, i + CHUNK);
        const rows = (await dataSource.query(
          `SELECT ${userCol} AS u, COUNT(*) AS n FROM ${table} WHERE ${pkgCol} = ? AND ${userCol} IN (${chunk.map(() => '?').join(', ')})` +
            ` AND ${seenCol} IS NULL GROUP BY ${userCol}`,
          [pkg, ...chunk],
        )) as { u: unknown; n: unknown }[];
        for (const row of rows) counts.set(String(row.u), Number(row.n));
      }
      return counts;
    },

    async list(pkg, user, { state, before, after, limit }) {
      const p = `${item}.`;
      const params: unknown[] = [pkg, user];
      let where = `${p}${pkgCol} = ? AND ${p}${userCol} = ?`;
      if (state === 'unseen') where += ` AND ${p}${seenCol} IS NULL`;
      if (state === 'seen') where += ` AND ${p}${seenCol} IS NOT NULL`;
      const position = after ? keyset('>', after, p) : before ? keyset('<', before, p) : null;
      if (position) {
        where += position.sql;
        params.push(...position.params);
      }
      const dir = after ? 'ASC' : 'DESC';
      const rows = (await dataSource.query(
        `SELECT ${p}${idCol} AS id, ${p}${q('notification_id')} AS notification_id, ${p}${createdCol} AS created_at,` +
          ` ${p}${seenCol} AS seen_at, n.${q('event')} AS event, n.${createdCol} AS accepted_at` +
          ` FROM ${table} ${item} JOIN ${q('notification')} n ON n.${idCol} = ${p}${q('notification_id')}` +
          ` WHERE ${where} ORDER BY ${p}${createdCol} ${dir}, ${p}${idCol} ${dir} LIMIT ${checkedLimit(limit)}`,
        params,
      )) as Record<string, unknown>[];
      return rows.map((row) => ({
        id: String(row['id']),
        notificationId: String(row['notification_id']),
        createdAt: driver.prepareHydratedValue(row['created_at'], createdColumn) as Date,
        seenAt: (driver.prepareHydratedValue(row['seen_at'], seenColumn) as Date | null) ?? null,
        event: String(row['event']),
        acceptedAt: driver.prepareHydratedValue(row['accepted_at'], acceptedColumn) as Date,
      }));
    },

    async markSeen(pkg, user, which, at) {
      const base = `UPDATE ${table} SET ${seenCol} = ? WHERE ${pkgCol} = ? AND ${userCol} = ? AND ${seenCol} IS NULL`;
      const params: unknown[] = [toDb(at), pkg, user];
      if ('upTo' in which) {
        const upTo = keyset('<=', which.upTo);
        return run(base + upTo.sql, [...params, ...upTo.params]);
      }
      let changed = 0;
      for (let i = 0; i < which.ids.length; i += CHUNK) {
        const chunk = which.ids.slice(i, i + CHUNK).map(Number);
        changed += await run(`${base} AND ${idCol} IN (${chunk.map(() => '?').join(', ')})`, [...params, ...chunk]);
      }
      return changed;
    },

    async purgeSeen(seenBefore, limit) {
      // Keys first, then a delete by primary key: each statement touches at most `limit` rows
      // (no long lock on a table the router writes to), and it works where DELETE … LIMIT does not.
      const rows = (await dataSource.query(
        `SELECT ${idCol} AS id FROM ${table} WHERE ${seenCol} < ? ORDER BY ${seenCol} LIMIT ${checkedLimit(limit)}`,
        [toDb(seenBefore)],
      )) as { id: unknown }[];
      if (rows.length === 0) return 0;
      const ids = rows.map((row) => Number(row.id));
      return run(`DELETE FROM ${table} WHERE ${idCol} IN (${ids.map(() => '?').join(', ')})`, ids);
    },
  };
}
