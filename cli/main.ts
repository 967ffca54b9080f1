#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { loadConfig, readEnv } from '../shared/config/index.js';
import type { DataSource } from 'typeorm';
import { createDataSource, createVapidKeyStore, runMigrations } from '../shared/database/index.js';
import { ConfigError } from '../shared/errors/index.js';
import { isValidName } from '../shared/topics/index.js';
import { generateVapidKeyPair } from '../shared/vapid/index.js';

/** Exit codes scripts can rely on: 0 done, 1 the operation failed, 2 the command line is wrong. */
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

const program = new Command('axion-push')
  .description('Operate an axion-push deployment. Reads the same settings (environment, .env) as the services.')
  .exitOverride()
  .showHelpAfterError();

program
  .command('migrate')
  .description('apply pending database migrations to DATABASE_URL and exit')
  .action(() =>
    withDatabase(async (_dataSource, applied) => {
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'the database is up to date');
    }),
  );

const vapid = program.command('vapid').description('VAPID (RFC 8292) keys');
vapid
  .command('generate')
  .description('print a new P-256 key pair (base64url) for configuration')
  .option('--json', 'print JSON instead of KEY=value lines')
  .action((options: { json?: boolean }) => {
    const pair = generateVapidKeyPair();
    console.log(
      options.json
        ? JSON.stringify(pair, null, 2)
        : `VAPID_PUBLIC_KEY=${pair.publicKey}\nVAPID_PRIVATE_KEY=${pair.privateKey}`,
    );
  });

vapid
  .command('rotate')
  .description("make a new key current for the package's new subscriptions (existing ones keep theirs)")
  .argument('<package>', 'package name')
  .action(async (pkg: string) => {
    if (!isValidName(pkg)) throw new Error('package must be 1-128 characters of [A-Za-z0-9._@-]');
    await withDatabase(async (dataSource) => {
      const key = await createVapidKeyStore(dataSource).rotate(pkg);
      console.log(`new current key of ${pkg} (id ${key.id}): ${key.publicKey}`);
    });
  });

/** Opens `DATABASE_URL` with migrations applied, runs `work`, and closes it again. */
async function withDatabase<T>(work: (dataSource: DataSource, applied: string[]) => Promise<T>): Promise<T> {
  const config = loadConfig(readEnv(process.env));
  const dataSource = createDataSource(config.database);
  await dataSource.initialize();
  try {
    return await work(dataSource, await runMigrations(dataSource));
  } finally {
    await dataSource.destroy();
  }
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version end here too, with exit code 0.
    process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
  }
  console.error(err instanceof ConfigError ? err.message : `axion-push: ${(err as Error).message}`);
  process.exit(EXIT_FAILED);
}
