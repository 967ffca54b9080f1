#!/usr/bin/env node
import { Command } from 'commander';
import { generateVapidKeyPair } from '../shared/vapid/index.js';
import { outcomeOf, USAGE_HINT } from './cli-error.js';
import { addNotifyCommands } from './notify-commands.js';
import { parseName } from './parse-options.js';
import { addSubscriptionCommands } from './subscription-commands.js';

// Commands load the database, Redis and queue code only when they run (dynamic imports), so
// `--help` and usage errors answer at once, before anything connects.
const program = new Command('axion-push')
  .description('Operate an axion-push deployment. Reads the same settings (environment, .env) as the services.')
  .exitOverride()
  .showHelpAfterError(USAGE_HINT)
  .addHelpText(
    'after',
    '\nExit codes: 0 done, 1 failed (bad settings, database or Redis unreachable, nothing delivered),\n' +
      '2 bad usage or invalid input.',
  );

program
  .command('migrate')
  .description('apply pending database migrations to DATABASE_URL and exit')
  .action(async () => {
    const { loadCliConfig, withDatabase } = await import('./open-system.js');
    await withDatabase(loadCliConfig(), async (_dataSource, applied) => {
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'the database is up to date');
    });
  });

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
  .argument('<package>', 'package name', parseName)
  .action(async (pkg: string) => {
    const { loadCliConfig, withDatabase } = await import('./open-system.js');
    const { createVapidKeyStore } = await import('../shared/database/index.js');
    await withDatabase(loadCliConfig(), async (dataSource) => {
      const key = await createVapidKeyStore(dataSource).rotate(pkg);
      console.log(`new current key of ${pkg} (id ${key.id}): ${key.publicKey}`);
    });
  });

addNotifyCommands(program);
addSubscriptionCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const { exitCode, lines } = outcomeOf(err);
  for (const line of lines) console.error(line);
  process.exit(exitCode);
}
