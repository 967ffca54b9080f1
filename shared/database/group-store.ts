import type { DataSource } from 'typeorm';
import { GroupMemberEntity } from '../entities/index.js';
import { isDuplicateKey } from './subscription-store.js';

/** One page of members: users after `after` (exclusive), in user order, at most `limit`. */
export interface MemberPageOptions {
  after?: string;
  limit: number;
}

/** Group membership (`group_member`) and the user sets the router fans out to. */
export interface GroupStore {
  /** Adds `user` to the group; true when newly added, false when already a member. */
  add(pkg: string, group: string, user: string): Promise<boolean>;
  /** Removes `user` from the group; false when they were not a member. */
  remove(pkg: string, group: string, user: string): Promise<boolean>;
  /** Members ordered by user, keyset-paged: pass the last user of a page as the next `after`. */
  list(pkg: string, group: string, page: MemberPageOptions): Promise<string[]>;
  /**
   * Calls `fn` with every member of the group, in user order, at most `batchSize` at a time,
   * one page in memory at once; each batch is awaited before the next is read. A member
   * added or removed meanwhile may or may not be seen; nobody is seen twice.
   */
  forEachBatch(
    pkg: string,
    group: string,
    batchSize: number,
    fn: (users: string[]) => Promise<void>,
  ): Promise<void>;
  /**
   * Like `forEachBatch`, over the distinct users of the package with at least one active
   * push subscription (`target: { all: true }`, `notify/all`). `push_subscription.user` has
   * the database's collation: on MySQL/MariaDB with a case-insensitive one, `Alice` and
   * `alice` count as one user, as they already do for that table's other queries.
   */
  forEachActiveUserBatch(
    pkg: string,
    batchSize: number,
    fn: (users: string[]) => Promise<void>,
  ): Promise<void>;
}

/** The TypeORM-backed store (MySQL/MariaDB or SQLite). */
export function createGroupStore(dataSource: DataSource): GroupStore {
  const repo = dataSource.getRepository(GroupMemberEntity);
  const q = (identifier: string) => dataSource.driver.escape(identifier);

  // Plain SQL for the reads: they run per batch on the fan-out path, where TypeORM's query
  // building and hydration cost more than the query. Both are served by an index prefix
  // (group_member's primary key; push_subscription's (package, active, user)).
  async function page(
    sql: string,
    params: unknown[],
    after: string | undefined,
    limit: number,
  ): Promise<string[]> {
    const keyset = after === undefined ? '' : ` AND ${q('user')} > ?`;
    const rows = (await dataSource.query(
      `${sql}${keyset} ORDER BY ${q('user')} LIMIT ${checkedLimit(limit)}`,
      after === undefined ? params : [...params, after],
    )) as { user: unknown }[];
    return rows.map((row) => String(row.user));
  }

  const membersSql =
    `SELECT ${q('user')} FROM ${q('group_member')} WHERE ${q('package')} = ? AND ${q('group_name')} = ?`;
  const activeUsersSql =
    `SELECT DISTINCT ${q('user')} FROM ${q('push_subscription')}` +
    ` WHERE ${q('package')} = ? AND ${q('active')} = 'Y'`;

  return {
    async add(pkg, group, user) {
      try {
        await repo.insert({ package: pkg, groupName: group, user, createdAt: new Date() });
        return true;
      } catch (err) {
        if (isDuplicateKey(err)) return false;
        throw err;
      }
    },
    async remove(pkg, group, user) {
      const result = await repo.delete({ package: pkg, groupName: group, user });
      return (result.affected ?? 0) > 0;
    },
    list: (pkg, group, { after, limit }) => page(membersSql, [pkg, group], after, limit),
    forEachBatch: (pkg, group, batchSize, fn) =>
      walk((after) => page(membersSql, [pkg, group], after, batchSize), batchSize, fn),
    forEachActiveUserBatch: (pkg, batchSize, fn) =>
      walk((after) => page(activeUsersSql, [pkg], after, batchSize), batchSize, fn),
  };
}

/** Keyset walk: each page starts after the last user of the one before; a short page is the end. */
async function walk(
  read: (after: string | undefined) => Promise<string[]>,
  batchSize: number,
  fn: (users: string[]) => Promise<void>,
): Promise<void> {
  checkedLimit(batchSize);
  let after: string | undefined;
  for (;;) {
    const users = await read(after);
    if (users.length > 0) await fn(users);
    if (users.length < batchSize) return;
    after = users[users.length - 1];
  }
}

/** The limit goes into the SQL text (a `LIMIT ?` is not portable), so it must be a plain integer. */
function checkedLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new RangeError(`limit must be a positive integer, got ${limit}`);
  }
  return limit;
}
