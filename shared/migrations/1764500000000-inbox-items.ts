import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * `inbox_item`: one row per (notification, user) that an event was routed to (issue 6). Table
 * API, so the same migration runs on MySQL/MariaDB and SQLite.
 */
export class InboxItems1764500000000 implements MigrationInterface {
  name = 'InboxItems1764500000000';

  async up(q: QueryRunner): Promise<void> {
    const type = q.connection.options.type;
    const mysql = type === 'mysql' || type === 'mariadb';
    // Names compare exactly (as group_member's and the notification id do since 1764400000000).
    const exact = mysql ? { charset: 'utf8mb4', collation: 'utf8mb4_bin' } : {};
    const name = (column: string) => ({ name: column, type: 'varchar', length: '128', ...exact }) as const;
    await q.createTable(
      new Table({
        name: 'inbox_item',
        columns: [
          // SQLite's INTEGER PRIMARY KEY is 64-bit already; MySQL's int would run out after
          // about 21,000 fan-outs to 100,000 users.
          { name: 'id', type: mysql ? 'bigint' : 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          name('notification_id'),
          name('package'),
          name('user'),
          { name: 'created_at', type: 'datetime', precision: 3 },
          { name: 'seen_at', type: 'datetime', precision: 3, isNullable: true },
        ],
        indices: [
          // Idempotence: routing an event again inserts nothing (INSERT IGNORE on this key).
          new TableIndex({ name: 'UQ_inbox_item_notification_user', columnNames: ['notification_id', 'user'], isUnique: true }),
          // A user's inbox newest first, and keyset paging by (created_at, id).
          new TableIndex({ name: 'IDX_inbox_item_user_created', columnNames: ['package', 'user', 'created_at', 'id'] }),
          // Unseen counts (seen_at IS NULL) and the unseen/seen listings.
          new TableIndex({ name: 'IDX_inbox_item_user_seen', columnNames: ['package', 'user', 'seen_at', 'created_at', 'id'] }),
          // The retention purge walks seen items oldest first.
          new TableIndex({ name: 'IDX_inbox_item_seen_at', columnNames: ['seen_at'] }),
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('inbox_item');
  }
}
