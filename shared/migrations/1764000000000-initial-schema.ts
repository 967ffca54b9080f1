import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

const timestamp = (name: string, nullable = false) =>
  ({ name, type: 'datetime', precision: 3, isNullable: nullable }) as const;

/**
 * The first schema. Written with TypeORM's Table API rather than SQL so that the same
 * migration runs on MySQL/MariaDB (the reference) and on SQLite (the embedded default).
 */
export class InitialSchema1764000000000 implements MigrationInterface {
  name = 'InitialSchema1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'push_subscription',
        columns: [
          { name: 'user', type: 'varchar', length: '128', isPrimary: true },
          { name: 'package', type: 'varchar', length: '128', isPrimary: true },
          { name: 'endpoint_hash', type: 'varchar', length: '64', isPrimary: true },
          { name: 'endpoint', type: 'varchar', length: '2048' },
          { name: 'module', type: 'varchar', length: '128', isNullable: true },
          { name: 'p256dh', type: 'varchar', length: '128' },
          { name: 'auth', type: 'varchar', length: '64' },
          { name: 'user_agent', type: 'varchar', length: '512', isNullable: true },
          timestamp('expiration_time', true),
          { name: 'vapid_key_id', type: 'int', isNullable: true },
          timestamp('created_at'),
          timestamp('updated_at'),
          timestamp('last_success_at', true),
          { name: 'failure_count', type: 'int', default: 0 },
          { name: 'active', type: 'varchar', length: '1', default: "'Y'" },
          { name: 'deactivated_reason', type: 'varchar', length: '64', isNullable: true },
        ],
        indices: [
          // Fan-out to every active user of a package; the primary key already serves
          // "active subscriptions of (user, package)" by its prefix.
          new TableIndex({ name: 'IDX_push_subscription_package_active', columnNames: ['package', 'active', 'user'] }),
          // 404/410 clean-up finds every row of a dead endpoint.
          new TableIndex({ name: 'IDX_push_subscription_endpoint_hash', columnNames: ['endpoint_hash'] }),
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'vapid_key',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'package', type: 'varchar', length: '128' },
          { name: 'public_key', type: 'varchar', length: '128' },
          { name: 'private_key', type: 'varchar', length: '64' },
          { name: 'current_for', type: 'varchar', length: '128', isNullable: true, isUnique: true },
          timestamp('created_at'),
        ],
        indices: [new TableIndex({ name: 'IDX_vapid_key_package', columnNames: ['package'] })],
      }),
    );
    await q.createTable(
      new Table({
        name: 'notification',
        columns: [
          { name: 'id', type: 'varchar', length: '128', isPrimary: true },
          { name: 'package', type: 'varchar', length: '128' },
          { name: 'target', type: 'text' },
          { name: 'event', type: 'text' },
          { name: 'source', type: 'varchar', length: '8' },
          timestamp('created_at'),
        ],
        indices: [new TableIndex({ name: 'IDX_notification_package_created', columnNames: ['package', 'created_at'] })],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('notification');
    await q.dropTable('vapid_key');
    await q.dropTable('push_subscription');
  }
}
