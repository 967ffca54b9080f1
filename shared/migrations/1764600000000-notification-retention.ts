import { TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * The notification retention (`NOTIFICATION_RETENTION_DAYS`) walks notifications oldest first
 * across packages: an index on (`created_at`, `id`) keeps each batch a range read. Table API, so
 * it runs on MySQL/MariaDB and SQLite.
 */
export class NotificationRetention1764600000000 implements MigrationInterface {
  name = 'NotificationRetention1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createIndex('notification', new TableIndex({ name: 'IDX_notification_created', columnNames: ['created_at', 'id'] }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('notification', 'IDX_notification_created');
  }
}
