import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createConnection } from 'mysql2/promise';
import { Fleet } from '../support/fleet.js';
import { LocalPushService } from '../support/local-push-service.js';
import { obliterateQueues } from '../support/queues.js';
import { runCli } from '../support/run-cli.js';
import { createTestDatabase, TEST_REDIS_URL } from '../support/test-databases.js';
import {
  listSubscriptions,
  openPush,
  subscribeUser,
  waitForMessage,
  type Deployment,
  type Subscriber,
} from '../support/whole-path.js';

const PRODUCER_KEY = 'cli-producer-key-0123456789abcdef';
const PKG = 'crm';

describe('axion-push CLI against a running system (MariaDB, Redis, local push service)', function () {
  this.timeout(60_000);
  const fleet = new Fleet();
  const subscribers: Subscriber[] = [];
  let pushService: LocalPushService;
  let deployment: Deployment;
  let dataDir: string;
  /** What the CLI needs: the same database, Redis and queue prefix as the services. */
  let cliEnv: Record<string, string>;
  const cli = (args: string[]) => runCli(args, cliEnv);

  async function subscriber(): Promise<Subscriber> {
    const s = await subscribeUser(deployment, PKG);
    subscribers.push(s);
    return s;
  }

  before(async function () {
    pushService = await new LocalPushService().start();
    fleet.database = await createTestDatabase('mysql');
    dataDir = mkdtempSync(join(tmpdir(), 'axion-cli-e2e-'));
    const env = fleet.env({ producer: PRODUCER_KEY, router: `cli-router-${randomUUID()}` }, {
      DATA_DIR: dataDir,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      PUSH_ALLOW_INSECURE_LOOPBACK: 'true',
      VAPID_SUBJECT: 'mailto:ops@axion-push.example',
    });
    const ready = await fleet.start('all-in-one', env).waitForLog('axion-push ready');
    deployment = {
      httpBase: `http://127.0.0.1:${ready['httpPort']}`,
      mqttUrl: `mqtt://127.0.0.1:${ready['mqttPort']}`,
      serviceKey: PRODUCER_KEY,
      pushService,
    };
    cliEnv = { DATABASE_URL: fleet.database.config.url, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: fleet.prefix };
  });

  after(async function () {
    await Promise.all(subscribers.map((s) => s.dashboard.endAsync()));
    await fleet.close();
    await pushService?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('test-push delivers a Web Push to the user\'s subscriptions while their dashboard is online, and --wait prints the outcome', async function () {
    const s = await subscriber();
    const result = await cli(['test-push', s.user, '--package', PKG, '--title', 'Hello', '--body', 'Testing', '--url', '/settings', '--wait']);
    expect(result.code, result.stderr).to.equal(0);
    const [id, outcome] = result.stdout.trim().split('\n');
    // The live endpoint accepted it; the 410 one was found dead and deactivated.
    expect(outcome).to.equal('sent 1, failed 0, expired 0, cleaned 1');
    const [push] = await pushService.waitFor(s.ok.path);
    expect(openPush(push!.body, s.ok.keys)).to.deep.include({ id, package: PKG, user: s.user, title: 'Hello', body: 'Testing', url: '/settings' });
    expect((await waitForMessage(s, id!)).title).to.equal('Hello');
  });

  it('test-push for a user without an active subscription exits 1, naming the user and the package', async function () {
    const result = await cli(['test-push', 'nobody-here', '--package', PKG]);
    expect(result.code).to.equal(1);
    expect(result.stderr.trim()).to.equal('axion-push: nobody-here has no active subscription in package crm: nothing to test');
  });

  it('test-push --wait exits 1 when no router takes the event in time, saying what to check', async function () {
    const s = await subscriber();
    const elsewhere = `cli${randomUUID().slice(0, 8)}`;
    try {
      // Another queue prefix: no router of this system reads it.
      const result = await runCli(['test-push', s.user, '--package', PKG, '--wait', '--timeout', '1'], { ...cliEnv, QUEUE_PREFIX: elsewhere });
      expect(result.code).to.equal(1);
      expect(result.stdout.trim()).to.match(/^[0-9a-f-]{36}$/);
      expect(result.stderr.trim()).to.equal(
        'axion-push: no outcome within 1 s (sent 0, failed 0, expired 0, cleaned 0): are the notify-router and push-worker running?',
      );
    } finally {
      await obliterateQueues(TEST_REDIS_URL, elsewhere);
    }
  });

  it('send to a user reaches the dashboard and the browser; the same --id again is a no-op, other content under it exits 1', async function () {
    const s = await subscriber();
    const id = `cli-${randomUUID()}`;
    const args = ['send', '--package', PKG, '--user', s.user, '--title', 'Invoice paid', '--body', 'ACME paid 42', '--url', '/invoices/42', '--delivery', 'always', '--ttl', '600', '--id', id];
    const result = await cli(args);
    expect(result).to.include({ code: 0, stdout: `${id}\n` });
    const message = await waitForMessage(s, id);
    expect(message).to.include({ title: 'Invoice paid', body: 'ACME paid 42', url: '/invoices/42', user: s.user });
    const [push] = await pushService.waitFor(s.ok.path);
    expect(openPush(push!.body, s.ok.keys)).to.deep.equal(message);
    expect(Number(push!.headers['ttl'])).to.be.within(590, 600);

    expect(await cli(args)).to.include({ code: 0, stdout: `${id}\n` });
    const conflict = await cli(args.map((a) => (a === 'Invoice paid' ? 'Invoice refunded' : a)));
    expect(conflict.code).to.equal(1);
    expect(conflict.stderr).to.contain(`event id ${id} was already used for another event`);
    await new Promise((r) => setTimeout(r, 500));
    expect(s.messages.filter((m) => m.id === id)).to.have.length(1);
    expect(pushService.requestsTo(s.ok.path)).to.have.length(1);
  });

  it('send to a group reaches every member, realtime and Web Push', async function () {
    const [ann, ben] = [await subscriber(), await subscriber()];
    const group = `team-${randomUUID().slice(0, 8)}`;
    for (const member of [ann, ben]) {
      const res = await fetch(`${deployment.httpBase}/v1/groups/${PKG}/${group}/members/${member.user}`, {
        method: 'PUT',
        headers: { 'x-api-key': PRODUCER_KEY },
      });
      expect(res.status).to.equal(201);
    }
    const result = await cli(['send', '--package', PKG, '--group', group, '--title', 'Team news', '--delivery', 'always']);
    expect(result.code, result.stderr).to.equal(0);
    const id = result.stdout.trim();
    for (const member of [ann, ben]) {
      expect((await waitForMessage(member, id)).user).to.equal(member.user);
      const [push] = await pushService.waitFor(member.ok.path);
      expect(openPush(push!.body, member.ok.keys)).to.include({ id, title: 'Team news', user: member.user });
    }
  });

  it('subscriptions list shows what the API stored, as a table and as JSON, and never the keys or full endpoints', async function () {
    const s = await subscriber();
    const stored = await listSubscriptions(deployment, s);
    const table = await cli(['subscriptions', 'list', s.user, '--package', PKG]);
    const json = await cli(['subscriptions', 'list', s.user, '--json']);
    expect(table.code).to.equal(0);
    expect(json.code).to.equal(0);

    const host = new URL(pushService.origin).host;
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).to.match(/^PACKAGE +ENDPOINT HOST +ID +CREATED +LAST SUCCESS +STATUS$/);
    expect(lines.slice(1)).to.have.length(2);
    for (const line of lines.slice(1)) expect(line).to.match(new RegExp(`^crm +${host} +[0-9a-f]{12} +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\dZ +never +active$`));

    const listed = JSON.parse(json.stdout) as Record<string, unknown>[];
    const fromApi = (stored as unknown as Record<string, unknown>[]).map((r) => ({
      id: r['id'], package: r['package'], endpointHost: new URL(String(r['endpoint'])).host, module: r['module'],
      userAgent: r['userAgent'], createdAt: r['createdAt'], lastSuccessAt: r['lastSuccessAt'],
      failureCount: r['failureCount'], active: r['active'], deactivatedReason: r['deactivatedReason'],
    }));
    expect(listed.map(({ expirationTime: _, ...rest }) => rest)).to.have.deep.members(fromApi);

    for (const output of [table.stdout, json.stdout]) {
      for (const secret of [s.ok.keys.p256dh, s.ok.keys.auth, s.gone.keys.p256dh, s.gone.keys.auth, s.ok.path, s.gone.path]) {
        expect(output).to.not.contain(secret);
      }
    }
  });

  it('subscriptions prune deactivates the stale and the expired subscriptions and leaves the fresh ones', async function () {
    const [ann, ben] = [await subscriber(), await subscriber()];
    const db = await createConnection(fleet.database!.config.url);
    try {
      // ann's second subscription: no success for 100 days; ben's: its expirationTime has passed.
      await db.query(
        'UPDATE push_subscription SET created_at = NOW() - INTERVAL 100 DAY, last_success_at = NOW() - INTERVAL 90 DAY WHERE user = ? AND endpoint LIKE ?',
        [ann.user, '%/gone'],
      );
      await db.query('UPDATE push_subscription SET expiration_time = NOW() - INTERVAL 1 MINUTE WHERE user = ? AND endpoint LIKE ?', [ben.user, '%/gone']);
    } finally {
      await db.end();
    }
    const pruned = await cli(['subscriptions', 'prune']);
    expect(pruned).to.include({ code: 0 });
    expect(pruned.stdout.trim()).to.equal('deactivated 2 stale subscriptions (none successful for 60 days, or expired)');

    const status = async (s: Subscriber) => {
      const rows = JSON.parse((await cli(['subscriptions', 'list', s.user, '--json'])).stdout) as { id: string; active: boolean; deactivatedReason: string | null }[];
      const api = await listSubscriptions(deployment, s);
      const hashOf = (path: string) => (api as unknown as { id: string; endpoint: string }[]).find((r) => r.endpoint.endsWith(path))!.id;
      return { ok: rows.find((r) => r.id === hashOf(s.ok.path)), gone: rows.find((r) => r.id === hashOf(s.gone.path)) };
    };
    const [annNow, benNow] = [await status(ann), await status(ben)];
    expect(annNow.gone).to.include({ active: false, deactivatedReason: 'stale' });
    expect(benNow.gone).to.include({ active: false, deactivatedReason: 'subscription-expired' });
    expect(annNow.ok).to.include({ active: true, deactivatedReason: null });
    expect(benNow.ok).to.include({ active: true, deactivatedReason: null });

    const again = await cli(['subscriptions', 'prune', '--days', '30']);
    expect(again.stdout.trim()).to.equal('deactivated 0 stale subscriptions (none successful for 30 days, or expired)');
  });
});
