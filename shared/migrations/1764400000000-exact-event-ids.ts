import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Event ids compare exactly on MySQL too: under the default collation `Order-1` and `order-1`
 * were one primary key, so a producer's second id was taken for the first's. And a target of
 * 1,000 named users (up to ~130 KB of JSON) outgrows `text` (64 KB): `mediumtext`. SQLite
 * compares exactly and has no text size classes: there this does nothing.
 */
export class ExactEventIds1764400000000 implements MigrationInterface {
  name = 'ExactEventIds1764400000000';

  async up(q: QueryRunner): Promise<void> {
    if (!isMysql(q)) return;
    await q.query('ALTER TABLE `notification` MODIFY `id` varchar(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL');
    await q.query('ALTER TABLE `notification` MODIFY `target` mediumtext NOT NULL');
  }

  async down(q: QueryRunner): Promise<void> {
    if (!isMysql(q)) return;
    await q.query('ALTER TABLE `notification` MODIFY `target` text NOT NULL');
    await q.query('ALTER TABLE `notification` MODIFY `id` varchar(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL');
  }
}

function isMysql(q: QueryRunner): boolean {
  const type = q.connection.options.type;
  return type === 'mysql' || type === 'mariadb';
}
