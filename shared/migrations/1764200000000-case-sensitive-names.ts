import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Name columns that must compare exactly: `Alice` and `alice` are two users (JWT `sub`, topic level). */
const COLUMNS: [table: string, column: string, nullable: boolean][] = [
  ['push_subscription', 'user', false],
  ['push_subscription', 'package', false],
  ['vapid_key', 'package', false],
  ['vapid_key', 'current_for', true],
  ['notification', 'package', false],
];

/**
 * MySQL's default collations ignore case, so the first schema matched `Alice`'s subscriptions
 * when asked for `alice`'s. SQLite compares text exactly already: there this does nothing.
 */
export class CaseSensitiveNames1764200000000 implements MigrationInterface {
  name = 'CaseSensitiveNames1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await this.collate(q, 'utf8mb4_bin');
  }

  async down(q: QueryRunner): Promise<void> {
    await this.collate(q, 'utf8mb4_unicode_ci');
  }

  private async collate(q: QueryRunner, collation: string): Promise<void> {
    const type = q.connection.options.type;
    if (type !== 'mysql' && type !== 'mariadb') return;
    for (const [table, column, nullable] of COLUMNS) {
      await q.query(
        `ALTER TABLE \`${table}\` MODIFY \`${column}\` varchar(128) CHARACTER SET utf8mb4 COLLATE ${collation} ${nullable ? 'NULL' : 'NOT NULL'}`,
      );
    }
  }
}
