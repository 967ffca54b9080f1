import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * The daily reminder of a subscription (issue 6): `notify_utc_hour`, `notify_minute`,
 * `notify_type` and `notify_message`, all nullable (null: no reminder). Table API, like the
 * initial schema, so the same migration runs on MySQL/MariaDB and SQLite.
 */
export class SubscriptionReminders1764300000000 implements MigrationInterface {
  name = 'SubscriptionReminders1764300000000';

  async up(q: QueryRunner): Promise<void> {
    // The message is the user's own text: utf8mb4 on MySQL whatever the table's default, so an
    // emoji fits. SQLite stores any text.
    const type = q.connection.options.type;
    const text =
      type === 'mysql' || type === 'mariadb'
        ? { charset: 'utf8mb4', collation: 'utf8mb4_unicode_ci' }
        : {};
    await q.addColumns('push_subscription', [
      new TableColumn({ name: 'notify_utc_hour', type: 'int', isNullable: true }),
      new TableColumn({ name: 'notify_minute', type: 'int', isNullable: true }),
      new TableColumn({ name: 'notify_type', type: 'varchar', length: '32', isNullable: true }),
      new TableColumn({
        name: 'notify_message',
        type: 'varchar',
        length: '100',
        isNullable: true,
        ...text,
      }),
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const column of ['notify_message', 'notify_type', 'notify_minute', 'notify_utc_hour']) {
      await q.dropColumn('push_subscription', column);
    }
  }
}
