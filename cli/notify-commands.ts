import { Option, type Command } from 'commander';
import { notificationRequestSchema, parseOrThrow } from '../shared/events/index.js';
import { usageError } from './cli-error.js';
import { parseName, parseWholeNumber } from './parse-options.js';

interface SendOptions {
  package: string;
  user?: string;
  group?: string;
  all?: boolean;
  title: string;
  body?: string;
  url?: string;
  delivery: string;
  ttl?: number;
  id?: string;
}

interface TestPushOptions {
  package: string;
  title: string;
  body?: string;
  url?: string;
  wait?: boolean;
  timeout: number;
}

/**
 * `send` and `test-push`: events into the running system through its own intake. Input is
 * checked here, before anything connects; the database, Redis and queue code is loaded only
 * for a valid command (`send-notification.ts`), which keeps `--help` and usage errors quick.
 */
export function addNotifyCommands(program: Command): void {
  program
    .command('send')
    .description('hand a notification to the running system, as POST /v1/notifications does; prints its id')
    .requiredOption('--package <package>', 'package the notification belongs to', parseName)
    .addOption(new Option('--user <user>', 'send to one user').argParser(parseName).conflicts(['group', 'all']))
    .addOption(new Option('--group <group>', 'send to every member of a group').argParser(parseName).conflicts('all'))
    .option('--all', 'send to every user of the package')
    .requiredOption('--title <title>', 'title, 1-200 characters')
    .option('--body <body>', 'body, up to 1000 characters')
    .option('--url <url>', 'opened on click: an http(s) URL or a path starting with /')
    .addOption(
      new Option('--delivery <mode>', 'offline: Web Push only to users without a live dashboard')
        .choices(['offline', 'always', 'realtime'])
        .default('offline'),
    )
    .option('--ttl <seconds>', 'how long push services keep it (default 86400)', parseWholeNumber)
    .option('--id <id>', 'idempotency key: sending the same id and content again is a no-op')
    .addHelpText('after', '\nExample:\n  $ axion-push send --package crm --group sales --title "Quarter closed" --url /reports/q3')
    .action(async (options: SendOptions) => {
      const target = options.user !== undefined ? { user: options.user }
        : options.group !== undefined ? { group: options.group }
        : options.all ? { all: true as const }
        : undefined;
      if (!target) throw usageError('one of --user, --group or --all is required');
      const { package: pkg, title, body, url, delivery, ttl, id } = options;
      const request = parseOrThrow(
        notificationRequestSchema,
        { package: pkg, target, title, body, url, delivery, ttl, id },
        'notification',
      );
      await (await import('./send-notification.js')).sendNotification(request);
    });

  program
    .command('test-push')
    .description("send a test notification to a user's subscriptions now (Web Push whether or not they are online); prints its id")
    .argument('<user>', 'user id', parseName)
    .requiredOption('--package <package>', 'package of the subscriptions', parseName)
    .option('--title <title>', 'title', 'Test notification')
    .option('--body <body>', 'body (default: when and by what it was sent)')
    .option('--url <url>', 'opened on click: an http(s) URL or a path starting with /')
    .option('--wait', "then wait for the push services' answers and print them: sent, failed, expired, cleaned; exit 1 when none accepted it")
    .option('--timeout <seconds>', 'how long --wait waits', parseWholeNumber, 30)
    .addHelpText('after', '\nExample:\n  $ axion-push test-push alice --package crm --title "Hello" --body "Testing" --wait')
    .action(async (user: string, options: TestPushOptions) => {
      const target = { user };
      const request = parseOrThrow(
        notificationRequestSchema,
        {
          package: options.package,
          target,
          title: options.title,
          body: options.body ?? `Sent with axion-push test-push at ${new Date().toISOString()}`,
          url: options.url,
          delivery: 'always',
        },
        'notification',
      );
      const waitMs = options.wait ? options.timeout * 1000 : undefined;
      await (await import('./send-notification.js')).sendTestPush({ ...request, target }, waitMs);
    });
}
