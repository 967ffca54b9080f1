import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * `group_member` (package, group_name, user). Table API, like the initial schema, so the same
 * migration runs on MySQL/MariaDB and SQLite.
 */
export class GroupMembers1764100000000 implements MigrationInterface {
  name = 'GroupMembers1764100000000';

  async up(q: QueryRunner): Promise<void> {
    // Names are case-sensitive (they are MQTT topic levels and JWT subjects): on MySQL a
    // binary collation keeps `Alice` and `alice` apart and orders like SQLite's BINARY, so
    // keyset paging walks members in the same order on both. SQLite has no such collation.
    const type = q.connection.options.type;
    const exact =
      type === 'mysql' || type === 'mariadb' ? { charset: 'utf8mb4', collation: 'utf8mb4_bin' } : {};
    const name = (column: string) =>
      ({ name: column, type: 'varchar', length: '128', isPrimary: true, ...exact }) as const;
    await q.createTable(
      new Table({
        name: 'group_member',
        columns: [
          name('package'),
          name('group_name'),
          name('user'),
          { name: 'created_at', type: 'datetime', precision: 3 },
        ],
        // The primary key serves fan-out and listing (members of a group, by user); this
        // serves "the groups of a user" (removing a user everywhere).
        indices: [
          new TableIndex({ name: 'IDX_group_member_package_user', columnNames: ['package', 'user'] }),
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('group_member');
  }
}
