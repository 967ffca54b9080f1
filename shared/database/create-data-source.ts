import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DataSource, type DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from '../config/index.js';
import { ENTITIES } from '../entities/index.js';
import { MIGRATIONS } from '../migrations/index.js';

export type DatabaseKind = 'mysql' | 'sqlite';

/** The dialect a `DATABASE_URL` names. */
export function databaseKind(url: string): DatabaseKind {
  return url.startsWith('sqlite:') ? 'sqlite' : 'mysql';
}

function optionsFor(config: DatabaseConfig): DataSourceOptions {
  const common = { entities: ENTITIES, migrations: MIGRATIONS, synchronize: false, logging: false };
  if (databaseKind(config.url) === 'sqlite') {
    const file = config.url.slice('sqlite:'.length);
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    return {
      ...common,
      type: 'better-sqlite3',
      database: file,
      // WAL lets the API read while the worker writes in the same all-in-one process.
      prepareDatabase: (db: { pragma(sql: string): unknown }) => {
        db.pragma('journal_mode = WAL');
        db.pragma('busy_timeout = 5000');
      },
    };
  }
  return {
    ...common,
    type: 'mysql',
    url: config.url.replace(/^mariadb:/, 'mysql:'),
    charset: 'utf8mb4_unicode_ci',
    timezone: 'Z',
    poolSize: 10,
    connectTimeout: 10_000,
  };
}

/** Builds (does not connect) the TypeORM data source for `DATABASE_URL`. */
export function createDataSource(config: DatabaseConfig): DataSource {
  return new DataSource(optionsFor(config));
}

/**
 * Runs pending migrations. On MySQL several services may start at once, so a named lock keeps
 * two processes from migrating together; SQLite is only ever opened by one process.
 */
export async function runMigrations(dataSource: DataSource): Promise<string[]> {
  if (dataSource.options.type !== 'mysql') {
    return (await dataSource.runMigrations({ transaction: 'each' })).map((m) => m.name);
  }
  const lock = dataSource.createQueryRunner();
  try {
    await lock.connect();
    const [row] = (await lock.query("SELECT GET_LOCK('axion_push_migrations', 120) AS got")) as {
      got: number | string;
    }[];
    if (Number(row?.got) !== 1) throw new Error('timed out waiting for the migration lock');
    try {
      return (await dataSource.runMigrations({ transaction: 'each' })).map((m) => m.name);
    } finally {
      await lock.query("SELECT RELEASE_LOCK('axion_push_migrations')");
    }
  } finally {
    await lock.release();
  }
}
