import type { DataSource } from 'typeorm';
import type { DatabaseConfig } from '../config/index.js';
import type { Service } from '../lifecycle/index.js';
import type { Logger } from '../logging/index.js';
import { createDataSource, databaseKind, runMigrations } from './create-data-source.js';

export interface Database extends Service {
  dataSource: DataSource;
}

/**
 * Connects to `DATABASE_URL` and applies pending migrations, so a fresh deployment needs no
 * separate step (`npm run migrate` does the same on its own).
 */
export async function startDatabase(config: DatabaseConfig, log: Logger): Promise<Database> {
  const dataSource = createDataSource(config);
  await dataSource.initialize();
  try {
    const applied = await runMigrations(dataSource);
    if (applied.length > 0) log.info({ applied }, 'migrations applied');
  } catch (err) {
    await dataSource.destroy();
    throw err;
  }
  log.info({ kind: databaseKind(config.url) }, 'database ready');
  return {
    name: 'database',
    dataSource,
    close: () => dataSource.destroy(),
  };
}
