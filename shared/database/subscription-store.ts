import { createHash } from 'node:crypto';
import { IsNull, LessThan, LessThanOrEqual, type DataSource, type Repository } from 'typeorm';
import { PushSubscriptionEntity, type PushSubscriptionRow } from '../entities/index.js';
import { affectedRows } from './raw-sql.js';
import { createSqliteStatements } from './sqlite-statements.js';

/** A subscription as a caller may see it: no key material. */
export type SubscriptionView = Omit<PushSubscriptionRow, 'p256dh' | 'auth'>;

/** What the push-worker needs to encrypt and send. */
export type DeliverableSubscription = Pick<
  PushSubscriptionRow,
  | 'user'
  | 'package'
  | 'endpointHash'
  | 'endpoint'
  | 'p256dh'
  | 'auth'
  | 'vapidKeyId'
  | 'expirationTime'
>;

export interface UpsertSubscription {
  user: string;
  package: string;
  endpoint: string;
  p256dh: string;
  auth: string;
  module: string | null;
  userAgent: string | null;
  expirationTime: Date | null;
  vapidKeyId: number | null;
  /** The daily reminder; null: none (an earlier one is removed); absent: the stored one stays. */
  reminder?: SubscriptionReminder | null;
}

export interface UpsertResult {
  endpointHash: string;
  created: boolean;
  /** The reminder the row has now: the one asked for, or the one a re-registration kept. */
  reminder: SubscriptionReminder | null;
  total: number;
}

/** A subscription's daily reminder, as the `notify_*` columns hold it. */
export interface SubscriptionReminder {
  utcHour: number;
  minute: number;
  type: NonNullable<PushSubscriptionRow['notifyType']>;
  message: string | null;
}

/** Persistence of browser subscriptions, keyed by (user, package, SHA-256 of endpoint). */
export interface SubscriptionStore {
  /**
   * Inserts, or updates and reactivates the row with the same key; answers the reminder the
   * subscription has now (given, or kept) and the user's active subscriptions in the package.
   */
  upsert(input: UpsertSubscription): Promise<UpsertResult>;
  /** `upsert` for many subscriptions at once (a group commit): one result per input, in order. */
  upsertMany(inputs: UpsertSubscription[]): Promise<UpsertResult[]>;
  /** Soft delete; false when there was no such row. */
  deactivate(key: SubscriptionKey, reason: string): Promise<boolean>;
  countActive(user: string, pkg: string): Promise<number>;
  list(user: string, pkg: string | undefined): Promise<SubscriptionView[]>;
  /** Active subscriptions of some users of a package, in one query (the push-worker's read). */
  listActive(pkg: string, users: readonly string[]): Promise<DeliverableSubscription[]>;
  /** Records a successful push (clearing the failure count) for subscriptions of one package, in one statement. */
  recordSuccesses(pkg: string, keys: readonly Omit<SubscriptionKey, 'package'>[], at: Date): Promise<void>;
  /**
   * Deactivates up to `limit` active subscriptions that are past their `expirationTime`, or
   * have had no successful push since `staleBefore` (counting from creation when never).
   * Returns how many; call again while it returns `limit`.
   */
  deactivateStale(staleBefore: Date, now: Date, limit: number): Promise<number>;
  recordFailure(key: SubscriptionKey): Promise<void>;
}

export interface SubscriptionKey {
  user: string;
  package: string;
  endpointHash: string;
}

/** SHA-256 hex of an endpoint URL: the key column, and how 410 clean-up finds rows. */
export function hashEndpoint(endpoint: string): string {
  return createHash('sha256').update(endpoint, 'utf8').digest('hex');
}

const VIEW_COLUMNS: (keyof SubscriptionView)[] = [
  'user', 'package', 'endpointHash', 'endpoint', 'module', 'userAgent', 'expirationTime',
  'vapidKeyId', 'createdAt', 'updatedAt', 'lastSuccessAt', 'failureCount', 'active',
  'deactivatedReason', 'notifyUtcHour', 'notifyMinute', 'notifyType', 'notifyMessage',
];

/** The TypeORM-backed store (MySQL/MariaDB or SQLite). */
export function createSubscriptionStore(dataSource: DataSource): SubscriptionStore {
  const repo: Repository<PushSubscriptionRow> = dataSource.getRepository(PushSubscriptionEntity);
  const q = (identifier: string) => dataSource.driver.escape(identifier);
  const metadata = dataSource.getMetadata(PushSubscriptionEntity);
  // Looked up once: a subscribe converts ~20 values, and TypeORM's lookup is a linear search.
  const byProperty = new Map(metadata.columns.map((c) => [c.propertyName, { meta: c, sql: q(c.databaseName) }]));
  const columnOf = (property: string) => byProperty.get(property)!.meta;
  const column = (property: string) => byProperty.get(property)!.sql;
  // Values still go through TypeORM's conversions (dates as SQLite stores them, say).
  const value = (property: string, v: unknown) => dataSource.driver.preparePersistentValue(v, columnOf(property)) as unknown;
  const mysql = dataSource.driver.options.type === 'mysql' || dataSource.driver.options.type === 'mariadb';
  /** Runs a write; answers the rows it changed. */
  const run = (sql: string, parameters: unknown[]) => affectedRows(dataSource, sql, parameters);
  // The push-worker's read and write of every job, as plain SQL: TypeORM's query building and
  // hydration cost more than the queries (~10 µs per key; docs/performance.md). On SQLite they
  // run as statements prepared once (sqlite-statements.ts).
  const sqlite = dataSource.driver.options.type === 'better-sqlite3' ? createSqliteStatements(dataSource) : null;
  const activeOfUsers =
    `SELECT ${q('user')}, ${q('endpoint_hash')}, ${q('endpoint')}, ${q('p256dh')}, ${q('auth')},` +
    ` ${q('vapid_key_id')}, ${q('expiration_time')} FROM ${q('push_subscription')}` +
    ` WHERE ${q('package')} = ? AND ${q('active')} = 'Y' AND ${q('user')}`;
  const recordSuccess =
    `UPDATE ${q('push_subscription')} SET ${q('last_success_at')} = ?, ${q('failure_count')} = 0` +
    ` WHERE ${q('package')} = ? AND (${q('user')}, ${q('endpoint_hash')}) IN`;
  const activeOfUserList = `${activeOfUsers} IN (SELECT value FROM json_each(?))`;
  const recordSuccessList = `${recordSuccess} (SELECT value ->> 0, value ->> 1 FROM json_each(?))`;
  const where = (key: SubscriptionKey) => ({
    user: key.user,
    package: key.package,
    endpointHash: key.endpointHash,
  });

  // Strictly increasing within the process: a row is known as created by a write when its
  // created_at is that write's time, so no two writes may share one.
  let lastWriteAt = 0;
  const writeTime = () => new Date((lastWriteAt = Math.max(Date.now(), lastWriteAt + 1)));

  /** The columns a subscribe sets on an existing row. */
  const updatedFields = ({ reminder, ...input }: UpsertSubscription, now: Date): [string, unknown][] => [
    ['endpoint', input.endpoint],
    ['p256dh', input.p256dh],
    ['auth', input.auth],
    ['module', input.module],
    ['userAgent', input.userAgent],
    ['expirationTime', input.expirationTime],
    ['vapidKeyId', input.vapidKeyId],
    ['updatedAt', now],
    ['active', 'Y'],
    ['deactivatedReason', null],
    ['failureCount', 0],
    // Absent: a browser re-registering its subscription keeps the reminder it had.
    ...(reminder === undefined
      ? []
      : ([
          ['notifyUtcHour', reminder?.utcHour ?? null],
          ['notifyMinute', reminder?.minute ?? null],
          ['notifyType', reminder?.type ?? null],
          ['notifyMessage', reminder?.message ?? null],
        ] as [string, unknown][])),
  ];
  const keyFields = (input: UpsertSubscription, endpointHash: string): [string, unknown][] => [
    ['user', input.user],
    ['package', input.package],
    ['endpointHash', endpointHash],
  ];
  /** Every column of a new row, in one order whatever the input. */
  const newRow = (input: UpsertSubscription, endpointHash: string, now: Date) =>
    new Map<string, unknown>([
      ...keyFields(input, endpointHash),
      ['notifyUtcHour', null], ['notifyMinute', null], ['notifyType', null], ['notifyMessage', null],
      // A later pair replaces an earlier one of the same column (the reminder's).
      ...updatedFields(input, now),
      ['createdAt', now],
      ['lastSuccessAt', null],
    ]);
  const insertSql = (columns: string[], rows: number) =>
    `INSERT INTO ${q('push_subscription')} (${columns.map(column).join(', ')}) VALUES ` +
    Array.from({ length: rows }, () => `(${columns.map(() => '?').join(', ')})`).join(', ');

  /**
   * The users' active subscriptions after a write, by user and package: one read answers each
   * caller's total, the reminder a re-registration kept, and whether the write created the row.
   */
  async function activeAfter(pairs: { user: string; package: string }[]): Promise<Map<string, Record<string, unknown>[]>> {
    const unique = [...new Map(pairs.map((p) => [`${p.user}\n${p.package}`, p])).values()];
    const rows = (await dataSource.query(
      `SELECT ${['user', 'package', 'endpoint_hash', 'created_at', 'notify_utc_hour', 'notify_minute', 'notify_type', 'notify_message'].map(q).join(', ')}` +
        ` FROM ${q('push_subscription')} WHERE ${q('active')} = 'Y' AND (${q('user')}, ${q('package')}) IN (${unique.map(() => '(?, ?)').join(', ')})`,
      unique.flatMap((p) => [p.user, p.package]),
    )) as Record<string, unknown>[];
    const byPair = new Map<string, Record<string, unknown>[]>();
    for (const row of rows) {
      const pair = `${String(row['user'])}\n${String(row['package'])}`;
      const list = byPair.get(pair);
      if (list) list.push(row);
      else byPair.set(pair, [row]);
    }
    return byPair;
  }

  function resultOf(input: UpsertSubscription, endpointHash: string, active: Record<string, unknown>[], created: boolean): UpsertResult {
    const own = active.find((r) => r['endpoint_hash'] === endpointHash);
    const kept: SubscriptionReminder | null =
      own && own['notify_utc_hour'] != null && own['notify_minute'] != null && own['notify_type'] != null
        ? {
            utcHour: Number(own['notify_utc_hour']),
            minute: Number(own['notify_minute']),
            type: own['notify_type'] as SubscriptionReminder['type'],
            message: own['notify_message'] == null ? null : String(own['notify_message']),
          }
        : null;
    return { endpointHash, created, reminder: input.reminder === undefined ? kept : input.reminder, total: active.length };
  }

  /**
   * MySQL: one multi-row INSERT … ON DUPLICATE KEY UPDATE per shape of input (with reminder
   * fields or without) and one read. Plain SQL: through TypeORM's repository the statements of
   * one subscribe cost about 1.5 ms of CPU, four times the rest of the request (bench:api).
   */
  async function upsertOnMysql(inputs: UpsertSubscription[]): Promise<UpsertResult[]> {
    const now = writeTime();
    const prepared = inputs.map((input) => {
      const endpointHash = hashEndpoint(input.endpoint);
      return { input, endpointHash, row: newRow(input, endpointHash, now) };
    });
    for (const withReminder of [false, true]) {
      const rows = prepared.filter((p) => (p.input.reminder !== undefined) === withReminder);
      if (rows.length === 0) continue;
      const columns = [...rows[0]!.row.keys()];
      const updates = updatedFields(rows[0]!.input, now).map(([p]) => `${column(p)} = VALUES(${column(p)})`);
      await run(
        `${insertSql(columns, rows.length)} ON DUPLICATE KEY UPDATE ${updates.join(', ')}`,
        rows.flatMap((r) => columns.map((c) => value(c, r.row.get(c)))),
      );
    }
    const active = await activeAfter(inputs);
    const createdKeys = new Set<string>();
    return prepared.map(({ input, endpointHash }) => {
      const mine = active.get(`${input.user}\n${input.package}`) ?? [];
      const own = mine.find((r) => r['endpoint_hash'] === endpointHash);
      // Created here when its created_at is this write's; the first of two equal keys in one
      // batch inserted it, the second updated it.
      const key = `${input.user}\n${input.package}\n${endpointHash}`;
      const created = own !== undefined && toDate(own['created_at'])?.getTime() === now.getTime() && !createdKeys.has(key);
      createdKeys.add(key);
      return resultOf(input, endpointHash, mine, created);
    });
  }

  /** SQLite (one writer, in process): update first, insert when there was nothing to update. */
  async function upsertOnSqlite(inputs: UpsertSubscription[]): Promise<UpsertResult[]> {
    const now = writeTime();
    const written: { input: UpsertSubscription; endpointHash: string; created: boolean }[] = [];
    for (const input of inputs) {
      const endpointHash = hashEndpoint(input.endpoint);
      const fields = updatedFields(input, now);
      const key = keyFields(input, endpointHash);
      const update = () =>
        run(
          `UPDATE ${q('push_subscription')} SET ${fields.map(([p]) => `${column(p)} = ?`).join(', ')}` +
            ` WHERE ${key.map(([p]) => `${column(p)} = ?`).join(' AND ')}`,
          [...fields, ...key].map(([p, v]) => value(p, v)),
        );
      let created = false;
      // Re-subscribing is the common case. Two first subscribes racing on the same key meet at
      // the primary key; the loser becomes an update.
      if ((await update()) === 0) {
        const row = newRow(input, endpointHash, now);
        try {
          await run(insertSql([...row.keys()], 1), [...row].map(([p, v]) => value(p, v)));
          created = true;
        } catch (err) {
          if (!isDuplicateKey(err)) throw err;
          await update();
        }
      }
      written.push({ input, endpointHash, created });
    }
    const active = await activeAfter(inputs);
    return written.map(({ input, endpointHash, created }) =>
      resultOf(input, endpointHash, active.get(`${input.user}\n${input.package}`) ?? [], created),
    );
  }

  const upsertMany = async (inputs: UpsertSubscription[]): Promise<UpsertResult[]> => {
    if (inputs.length === 0) return [];
    return mysql ? upsertOnMysql(inputs) : upsertOnSqlite(inputs);
  };

  return {
    upsertMany,
    upsert: async (input) => (await upsertMany([input]))[0]!,
    async deactivate(key, reason) {
      const result = await repo.update(
        { ...where(key), active: 'Y' },
        { active: 'N', deactivatedReason: reason, updatedAt: new Date() },
      );
      if ((result.affected ?? 0) > 0) return true;
      return (await repo.count({ where: where(key) })) > 0;
    },
    countActive: (user, pkg) => repo.count({ where: { user, package: pkg, active: 'Y' } }),
    list: (user, pkg) =>
      repo.find({
        where: { user, ...(pkg === undefined ? {} : { package: pkg }) },
        select: Object.fromEntries(VIEW_COLUMNS.map((c) => [c, true])),
        order: { createdAt: 'ASC' },
      }),
    async listActive(pkg, users) {
      if (users.length === 0) return [];
      const rows = (
        sqlite
          ? sqlite(activeOfUserList).all(pkg, JSON.stringify(users))
          : await dataSource.query(`${activeOfUsers} IN (${users.map(() => '?').join(',')})`, [pkg, ...users])
      ) as Record<string, unknown>[];
      return rows.map((r) => ({
        user: String(r['user']),
        package: pkg,
        endpointHash: String(r['endpoint_hash']),
        endpoint: String(r['endpoint']),
        p256dh: String(r['p256dh']),
        auth: String(r['auth']),
        vapidKeyId: r['vapid_key_id'] == null ? null : Number(r['vapid_key_id']),
        expirationTime: toDate(r['expiration_time']),
      }));
    },
    async recordSuccesses(pkg, keys, at) {
      if (keys.length === 0) return;
      const when = value('lastSuccessAt', at);
      if (sqlite) {
        const pairs = JSON.stringify(keys.map((k) => [k.user, k.endpointHash]));
        sqlite(recordSuccessList).run(when, pkg, pairs);
        return;
      }
      for (let i = 0; i < keys.length; i += 500) {
        const chunk = keys.slice(i, i + 500);
        await dataSource.query(
          `${recordSuccess} (${chunk.map(() => '(?, ?)').join(', ')})`,
          [when, pkg, ...chunk.flatMap((k) => [k.user, k.endpointHash])],
        );
      }
    },
    async deactivateStale(staleBefore, now, limit) {
      const rows = await repo.find({
        where: [
          { active: 'Y', expirationTime: LessThanOrEqual(now) },
          { active: 'Y', lastSuccessAt: LessThan(staleBefore) },
          { active: 'Y', lastSuccessAt: IsNull(), createdAt: LessThan(staleBefore) },
        ],
        select: { user: true, package: true, endpointHash: true, expirationTime: true },
        take: limit,
      });
      // Small batches, one row at a time: no long lock on a table the API is writing to.
      for (const row of rows) {
        const expired = row.expirationTime !== null && row.expirationTime <= now;
        await repo.update(
          { ...where(row), active: 'Y' },
          { active: 'N', deactivatedReason: expired ? 'subscription-expired' : 'stale', updatedAt: now },
        );
      }
      return rows.length;
    },
    async recordFailure(key) {
      await repo.increment(where(key), 'failureCount', 1);
    },
  };
}

/** True for a primary/unique key violation on MySQL/MariaDB or SQLite. */
export function isDuplicateKey(err: unknown): boolean {
  const e = err as { code?: string; driverError?: { code?: string } };
  const code = e.driverError?.code ?? e.code;
  return code === 'ER_DUP_ENTRY' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** A datetime column as the driver returns it: a Date (mysql2) or UTC text (SQLite). */
function toDate(value: unknown): Date | null {
  if (value == null) return null;
  if (value instanceof Date) return value;
  const text = String(value);
  return new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text.replace(' ', 'T')}Z`);
}
