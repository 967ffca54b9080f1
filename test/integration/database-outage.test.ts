import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import type { SubscriptionApi } from '../../services/subscription-api/start-subscription-api.js';
import { startDatabase, UNREACHABLE_PAUSE_MS, type Database } from '../../shared/database/index.js';
import { createLogger } from '../../shared/logging/index.js';
import { obliterateQueues } from '../support/queues.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../support/test-databases.js';
import { startRealTestApi } from '../support/test-api.js';
import { userToken } from '../support/tokens.js';
import { until } from '../support/until.js';

describe('the API while MariaDB cannot be reached', function () {
  this.timeout(30_000);
  const prefix = `test-${randomUUID()}`;
  const lines: Record<string, unknown>[] = [];
  let testDb: TestDatabase;
  let proxy: TcpProxy;
  let database: Database;
  let api: SubscriptionApi;
  let authorization: string;

  before(async function () {
    testDb = await createTestDatabase('mysql');
    const target = new URL(testDb.config.url);
    proxy = await new TcpProxy(target.hostname, Number(target.port || 3306)).start();
    const proxied = new URL(testDb.config.url);
    proxied.port = String(proxy.port);
    database = await startDatabase({ url: proxied.toString() }, createLogger({ level: 'silent', name: 'test' }));
    const sink = new Writable({ write: (chunk, _encoding, done) => (lines.push(JSON.parse(String(chunk)) as Record<string, unknown>), done()) });
    api = await startRealTestApi(database.dataSource, prefix, { log: createLogger({ level: 'info', name: 'test', destination: sink }) });
    authorization = `Bearer ${await userToken('alice', ['crm'])}`;
  });

  after(async function () {
    await api?.close();
    await database?.close();
    await proxy?.close();
    await testDb?.drop();
    await obliterateQueues(TEST_REDIS_URL, prefix);
  });

  const list = () => fetch(`http://127.0.0.1:${api.port}/v1/subscriptions?package=crm`, { headers: { authorization } });
  const logged = (msg: string) => lines.filter((l) => l['msg'] === msg).length;

  it('answers 503 with Retry-After at once, tries one connection per pause instead of one per request, and logs the outage once', async function () {
    expect((await list()).status).to.equal(200);

    proxy.takeDown();
    const before = proxy.connections;
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 40 }, () => list()));
    for (let i = 0; i < 40; i++) answers.push(await list());
    const elapsed = Date.now() - started;

    expect(answers.map((a) => a.status)).to.deep.equal(answers.map(() => 503));
    expect(answers.every((a) => /^\d+$/.test(a.headers.get('retry-after') ?? ''))).to.equal(true);
    const body = (await answers[0]!.json()) as { error: { code: string } };
    expect(body.error.code).to.equal('unavailable');
    // One attempt, then one more per pause that passed (a few at once may race the first).
    const attempts = proxy.connections - before;
    expect(attempts, `${attempts} connection attempts in ${elapsed} ms`).to.be.at.most(10 + 2 * Math.ceil(elapsed / UNREACHABLE_PAUSE_MS));
    expect(logged('database unreachable: queries fail at once until it answers')).to.equal(1);
    expect(logged('dependency unavailable')).to.be.at.most(1);

    proxy.bringUp();
    await until(async () => (await list()).status === 200, 'the API reaches the database again', 10_000);
    expect(logged('database reachable again')).to.equal(1);
  });
});
