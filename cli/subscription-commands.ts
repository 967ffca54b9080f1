import type { Command } from 'commander';
import { usageError } from './cli-error.js';
import { parseName, parseWholeNumber } from './parse-options.js';

/**
 * `subscriptions list` and `subscriptions prune`: the database only, no running service
 * needed. The database code is loaded only for a valid command.
 */
export function addSubscriptionCommands(program: Command): void {
  const subscriptions = program.command('subscriptions').description('browser push subscriptions');

  subscriptions
    .command('list')
    .description("a user's subscriptions, active and inactive, without key material or full endpoints")
    .argument('<user>', 'user id', parseName)
    .option('--package <package>', 'only this package', parseName)
    .option('--json', 'print JSON instead of a table')
    .addHelpText('after', '\nExample:\n  $ axion-push subscriptions list alice --package crm')
    .action(async (user: string, options: { package?: string; json?: boolean }) => {
      await (await import('./list-subscriptions.js')).listSubscriptions(user, options.package, options.json === true);
    });

  subscriptions
    .command('prune')
    .description(
      'deactivate stale subscriptions: past their expirationTime, or with no successful push for ' +
        'PUSH_STALE_AFTER_DAYS days (counted from creation when never); prints how many',
    )
    .option('--days <days>', 'stale after this many days without a successful push (default: PUSH_STALE_AFTER_DAYS, 60)', parseWholeNumber)
    .addHelpText('after', '\nExample:\n  $ axion-push subscriptions prune --days 90')
    .action(async (options: { days?: number }) => {
      if (options.days === 0) throw usageError('--days must be at least 1');
      await (await import('./prune-subscriptions.js')).pruneSubscriptions(options.days);
    });
}
