import type { DataSource } from 'typeorm';
import { GroupMemberEntity } from '../entities/index.js';
import { checkedLimit } from './raw-sql.js';
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
   * Like `forEachBatch`, over every user of the package (`target: { all: true }`,
   * `notify/all`): the distinct users with at least one active push subscription or at least
   * one inbox item, seen or not (someone who reads the inbox without allowing Web Push).
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
  // building and hydration cost more than the query. Each is served by an index prefix.
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

  /**
   * The package's users after `after`: the first `limit` of each source, merged. Each arm stops
   * at `limit` on its own index ((package, active, user) and (package, user, …)), so a page
   * costs the same at the end of 100,000 users as at the start.
   */
  async function usersPage(pkg: string, after: string | undefined, limit: number): Promise<string[]> {
    const keyset = after === undefined ? '' : ` AND ${q('user')} > ?`;
    const arm = (from: string, where: string) =>
      `SELECT DISTINCT ${q('user')} AS u FROM ${q(from)} WHERE ${q('package')} = ?${where}${keyset}` +
      ` ORDER BY ${q('user')} LIMIT ${checkedLimit(limit)}`;
    const arg = after === undefined ? [pkg] : [pkg, after];
    const rows = (await dataSource.query(
      `SELECT s.u AS u FROM (${arm('push_subscription', ` AND ${q('active')} = 'Y'`)}) s` +
        ` UNION SELECT i.u AS u FROM (${arm('inbox_item', '')}) i ORDER BY u LIMIT ${limit}`,
      [...arg, ...arg],
    )) as { u: unknown }[];
    return rows.map((row) => String(row.u));
  }

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
      walk((after) => usersPage(pkg, after, batchSize), batchSize, fn),
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
