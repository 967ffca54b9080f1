import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import type { DatabaseConfig } from '../../shared/config/index.js';

/** The MariaDB/MySQL server the integration tests may create databases on. */
export const TEST_MYSQL_URL = process.env['TEST_MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306';
export const TEST_REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

export interface TestDatabase {
  config: DatabaseConfig;
  drop(): Promise<void>;
}

/** A database of its own for one test file, on MariaDB or SQLite; `drop()` removes it. */
export async function createTestDatabase(kind: 'mysql' | 'sqlite'): Promise<TestDatabase> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'axion-test-'));
    return {
      config: { url: `sqlite:${join(dir, 'test.sqlite')}` },
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const name = `axion_test_${randomBytes(6).toString('hex')}`;
  const admin = await createConnection(TEST_MYSQL_URL);
  try {
    await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await admin.end();
  }
  return {
    config: { url: `${TEST_MYSQL_URL.replace(/\/$/, '')}/${name}` },
    async drop() {
      const conn = await createConnection(TEST_MYSQL_URL);
      try {
        await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await conn.end();
      }
    },
  };
}
