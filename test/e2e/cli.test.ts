import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { decodeBase64Url, isP256PublicKey } from '../../shared/vapid/index.js';
import { runCli as run } from '../support/run-cli.js';
import { createTestDatabase, type TestDatabase } from '../support/test-databases.js';

describe('axion-push CLI', function () {
  this.timeout(60_000);
  let testDb: TestDatabase;

  after(async function () {
    await testDb?.drop();
  });

  it('migrates a fresh MariaDB database, then reports it up to date', async function () {
    testDb = await createTestDatabase('mysql');
    const first = await run(['migrate'], { DATABASE_URL: testDb.config.url });
    const second = await run(['migrate'], { DATABASE_URL: testDb.config.url });
    expect(first).to.include({ code: 0 });
    expect(first.stdout).to.contain('applied: InitialSchema');
    expect(second.stdout.trim()).to.equal('the database is up to date');
  });

  it('prints a usable VAPID key pair', async function () {
    const { code, stdout } = await run(['vapid', 'generate', '--json']);
    const pair = JSON.parse(stdout) as { publicKey: string; privateKey: string };
    expect(code).to.equal(0);
    expect(isP256PublicKey(decodeBase64Url(pair.publicKey)!)).to.equal(true);
    expect(decodeBase64Url(pair.privateKey)).to.have.length(32);
  });

  it('rotates a package key in the database: the old key stays, a new one becomes current', async function () {
    testDb ??= await createTestDatabase('mysql');
    const env = { DATABASE_URL: testDb.config.url };
    const first = await run(['vapid', 'rotate', 'cli-pkg'], env);
    const second = await run(['vapid', 'rotate', 'cli-pkg'], env);
    expect(first.code).to.equal(0);
    const keyOf = (out: string) => /: (B[A-Za-z0-9_-]{86})$/m.exec(out)?.[1];
    expect(keyOf(first.stdout)).to.be.a('string');
    expect(keyOf(second.stdout)).to.be.a('string').and.not.equal(keyOf(first.stdout));
  });

  it('reads DATABASE_URL from a .env file in the working directory, as the services do', async function () {
    testDb ??= await createTestDatabase('mysql');
    const dir = mkdtempSync(join(tmpdir(), 'axion-cli-env-'));
    try {
      writeFileSync(join(dir, '.env'), `DATABASE_URL=${testDb.config.url}\n`);
      const listed = await run(['subscriptions', 'list', 'nobody', '--json'], {}, dir);
      expect(listed).to.include({ code: 0 });
      expect(JSON.parse(listed.stdout)).to.deep.equal([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers --help for every command with its usage, exit code 0', async function () {
    const commands = [
      [], ['migrate'], ['vapid'], ['vapid', 'generate'], ['vapid', 'rotate'], ['send'], ['test-push'],
      ['subscriptions'], ['subscriptions', 'list'], ['subscriptions', 'prune'],
    ];
    const runs = await inBatches(commands.map((command) => () => run([...command, '--help'])));
    runs.forEach((result, i) => {
      expect(result.code, commands[i]!.join(' ')).to.equal(0);
      expect(result.stdout).to.contain(`Usage: axion-push ${commands[i]!.join(' ')}`.trimEnd());
    });
    expect(runs[0]!.stdout).to.match(/Exit codes: 0 done, 1 failed .*\n.*2 bad usage/);
  });

  it('exits 2 with a message on each bad usage, before touching the database or Redis', async function () {
    const send = ['send', '--package', 'crm', '--title', 'Hi'];
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /unknown command 'frobnicate'/],
      [[], /Usage: axion-push/],
      [['vapid'], /Usage: axion-push vapid/],
      [['vapid', 'rotate', 'bad/name'], /value 'bad\/name' is invalid for argument 'package'. must be 1-128 characters of \[A-Za-z0-9._@-\]/],
      [send, /one of --user, --group or --all is required/],
      [['send', '--user', 'ann', '--title', 'Hi'], /required option '--package <package>' not specified/],
      [['send', '--package', 'crm', '--user', 'ann'], /required option '--title <title>' not specified/],
      [[...send, '--user', 'ann', '--all'], /option '--user <user>' cannot be used with option '--all'/],
      [[...send, '--group', 'g', '--all'], /option '--group <group>' cannot be used with option '--all'/],
      [[...send, '--user', 'a/b'], /option '--user <user>' argument 'a\/b' is invalid/],
      [[...send, '--user', 'ann', '--ttl', 'soon'], /'--ttl <seconds>' argument 'soon' is invalid. must be a whole number/],
      [[...send, '--user', 'ann', '--ttl', '99999999'], /invalid notification: ttl: Too big/],
      [[...send, '--user', 'ann', '--delivery', 'never'], /Allowed choices are offline, always, realtime/],
      [[...send, '--user', 'ann', '--url', 'javascript:alert(1)'], /invalid notification: url: must be an http\(s\) URL/],
      [['send', '--package', 'crm', '--user', 'ann', '--title', 'x'.repeat(201)], /invalid notification: title: Too big/],
      [[...send, '--user', 'ann', '--bogus'], /unknown option '--bogus'/],
      [['test-push', '--package', 'crm'], /missing required argument 'user'/],
      [['test-push', 'ann'], /required option '--package <package>' not specified/],
      [['test-push', 'ann', '--package', 'crm', '--timeout', '-1'], /'--timeout <seconds>' argument '-1' is invalid/],
      [['subscriptions', 'list'], /missing required argument 'user'/],
      [['subscriptions', 'list', 'ann', '--package', 'a+b'], /argument 'a\+b' is invalid/],
      [['subscriptions', 'prune', '--days', '0'], /--days must be at least 1/],
    ];
    // No settings at all: a check that needed the database would fail with exit 1 instead.
    const runs = await inBatches(cases.map(([args]) => () => run(args)));
    runs.forEach((result, i) => {
      const [args, message] = cases[i]!;
      expect(result.code, args.join(' ')).to.equal(2);
      expect(result.stderr, args.join(' ')).to.match(message);
      expect(result.stdout, args.join(' ')).to.equal('');
    });
  });

  it('exits 1 with one line naming DATABASE_URL when the database is unreachable, without its password', async function () {
    const env = { DATABASE_URL: 'mysql://root:db-secret-pw@127.0.0.1:1/axion' };
    for (const args of [['migrate'], ['subscriptions', 'list', 'ann'], ['subscriptions', 'prune']]) {
      const result = await run(args, env);
      expect(result.code, args.join(' ')).to.equal(1);
      expect(result.stderr.trim().split('\n'), args.join(' ')).to.have.length(1);
      expect(result.stderr).to.contain('DATABASE_URL').and.contain('127.0.0.1:1').and.not.contain('db-secret-pw');
    }
  });

  it('exits 1 naming REDIS_URL when Redis is unset or unreachable, without its password', async function () {
    const args = ['send', '--package', 'crm', '--user', 'ann', '--title', 'Hi'];
    const unset = await run(args, { DATABASE_URL: 'mysql://root@127.0.0.1:1/axion' });
    const unreachable = await run(args, { DATABASE_URL: 'mysql://root@127.0.0.1:1/axion', REDIS_URL: 'redis://:redis-secret-pw@127.0.0.1:1' });
    expect(unset.code).to.equal(1);
    expect(unset.stderr).to.match(/^REDIS_URL is not set/);
    expect(unreachable.code).to.equal(1);
    expect(unreachable.stderr.trim().split('\n')).to.have.length(1);
    expect(unreachable.stderr).to.contain('cannot reach Redis at REDIS_URL').and.not.contain('redis-secret-pw');
  });

  it('exits 1 on invalid settings, naming the variable', async function () {
    const bad = await run(['migrate'], { DATABASE_URL: 'postgres://nope' });
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.contain('DATABASE_URL');
  });
});

/** Runs the CLI a few processes at a time: each one loads the whole program. */
async function inBatches<T>(tasks: (() => Promise<T>)[], size = 4): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < tasks.length; i += size) results.push(...(await Promise.all(tasks.slice(i, i + size).map((task) => task()))));
  return results;
}
