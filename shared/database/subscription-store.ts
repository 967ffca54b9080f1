import { createHash } from 'node:crypto';
import { IsNull, LessThan, LessThanOrEqual, type DataSource, type Repository } from 'typeorm';
import { PushSubscriptionEntity, type PushSubscriptionRow } from '../entities/index.js';

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

/** A subscription's daily reminder, as the `notify_*` columns hold it. */
export interface SubscriptionReminder {
  utcHour: number;
  minute: number;
  type: NonNullable<PushSubscriptionRow['notifyType']>;
  message: string | null;
}

/** Persistence of browser subscriptions, keyed by (user, package, SHA-256 of endpoint). */
export interface SubscriptionStore {
  /** Inserts, or updates and reactivates the row with the same key. */
  /** Also answers the reminder the subscription has now (given, or kept). */
  /** Stores the subscription; `total` is the user's active subscriptions in the package after it. */
  upsert(input: UpsertSubscription): Promise<{ endpointHash: string; created: boolean; reminder: SubscriptionReminder | null; total: number }>;
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
  const columnOf = (property: string) => metadata.findColumnWithPropertyName(property)!;
  const column = (property: string) => q(columnOf(property).databaseName);
  // Values still go through TypeORM's conversions (dates as SQLite stores them, say).
  const value = (property: string, v: unknown) => dataSource.driver.preparePersistentValue(v, columnOf(property)) as unknown;
  const mysql = dataSource.driver.options.type === 'mysql' || dataSource.driver.options.type === 'mariadb';
  /** Runs a write; answers the rows it changed. */
  const run = async (sql: string, parameters: unknown[]): Promise<number> => {
    const runner = dataSource.createQueryRunner();
    try {
      return (await runner.query(sql, parameters, true)).affected ?? 0;
    } finally {
      await runner.release();
    }
  };
  const where = (key: SubscriptionKey) => ({
    user: key.user,
    package: key.package,
    endpointHash: key.endpointHash,
  });

  return {
    async upsert({ reminder, ...input }) {
      // Plain SQL: through TypeORM's repository the four statements of a subscribe cost about
      // 1.5 ms of CPU, four times the rest of the request (docs/performance.md, bench:api).
      const endpointHash = hashEndpoint(input.endpoint);
      const now = new Date();
      const fields: [string, unknown][] = [
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
      const key: [string, unknown][] = [['user', input.user], ['package', input.package], ['endpointHash', endpointHash]];
      const update = () =>
        run(
          `UPDATE ${q('push_subscription')} SET ${fields.map(([p]) => `${column(p)} = ?`).join(', ')}` +
            ` WHERE ${key.map(([p]) => `${column(p)} = ?`).join(' AND ')}`,
          [...fields, ...key].map(([p, v]) => value(p, v)),
        );
      const row = new Map<string, unknown>([
        ...key,
        ['notifyUtcHour', null], ['notifyMinute', null], ['notifyType', null], ['notifyMessage', null],
        // A later pair replaces an earlier one of the same column (the reminder's).
        ...fields,
        ['createdAt', now],
        ['lastSuccessAt', null],
      ]);
      const insert = `INSERT INTO ${q('push_subscription')} (${[...row.keys()].map(column).join(', ')}) VALUES (${[...row.keys()].map(() => '?').join(', ')})`;
      const rowValues = [...row].map(([p, v]) => value(p, v));
      let created = false;
      if (mysql) {
        // One statement: MySQL counts an inserted row as 1 and a changed one as 2, but with
        // mysql2's FOUND_ROWS an unchanged one as 1 too. updated_at always moves forward (by
        // 1 ms when two subscribes land in the same millisecond), so a duplicate is never
        // unchanged.
        const updatedAt = column('updatedAt');
        const assignments = fields.map(([p]) =>
          p === 'updatedAt'
            ? `${updatedAt} = IF(VALUES(${updatedAt}) > ${updatedAt}, VALUES(${updatedAt}), ${updatedAt} + INTERVAL 1000 MICROSECOND)`
            : `${column(p)} = VALUES(${column(p)})`,
        );
        created = (await run(`${insert} ON DUPLICATE KEY UPDATE ${assignments.join(', ')}`, rowValues)) === 1;
      } else if ((await update()) === 0) {
        // Update first: re-subscribing is the common case. Two first subscribes racing on the
        // same key meet at the primary key; the loser becomes an update.
        try {
          await run(insert, rowValues);
          created = true;
        } catch (err) {
          if (!isDuplicateKey(err)) throw err;
          await update();
        }
      }
      // One read answers both the caller's total and the reminder a re-registration kept.
      const active = (await dataSource.query(
        `SELECT ${q('endpoint_hash')}, ${q('notify_utc_hour')}, ${q('notify_minute')}, ${q('notify_type')}, ${q('notify_message')}` +
          ` FROM ${q('push_subscription')} WHERE ${q('user')} = ? AND ${q('package')} = ? AND ${q('active')} = 'Y'`,
        [input.user, input.package],
      )) as Record<string, unknown>[];
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
      return { endpointHash, created, reminder: reminder === undefined ? kept : reminder, total: active.length };
    },
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
      // Plain SQL: on the send path, TypeORM's query building and hydration cost more than
      // the query itself (docs/performance.md).
      const rows = (await dataSource.query(
        `SELECT ${q('user')}, ${q('endpoint_hash')}, ${q('endpoint')}, ${q('p256dh')}, ${q('auth')},` +
          ` ${q('vapid_key_id')}, ${q('expiration_time')} FROM ${q('push_subscription')}` +
          ` WHERE ${q('package')} = ? AND ${q('active')} = 'Y' AND ${q('user')} IN (${users.map(() => '?').join(',')})`,
        [pkg, ...users],
      )) as Record<string, unknown>[];
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
      // Plain SQL, as listActive: TypeORM's query builder spent ~10 µs per key here.
      const when = value('lastSuccessAt', at);
      for (let i = 0; i < keys.length; i += 500) {
        const chunk = keys.slice(i, i + 500);
        await dataSource.query(
          `UPDATE ${q('push_subscription')} SET ${q('last_success_at')} = ?, ${q('failure_count')} = 0` +
            ` WHERE ${q('package')} = ? AND (${q('user')}, ${q('endpoint_hash')}) IN (${chunk.map(() => '(?, ?)').join(', ')})`,
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
