import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  createSubscriptionStore,
  createVapidKeyStore,
  startDatabase,
  type VapidKey,
} from '../../shared/database/index.js';
import type { Message } from '../../shared/events/index.js';
import { CountingPushService } from '../support/counting-push-service.js';
import { obliterateQueues } from '../support/queues.js';
import { ServiceProcess } from '../support/service-process.js';
import { testLogger } from '../support/silent-logger.js';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../support/test-databases.js';
import { TEST_JWT_SECRET } from '../support/tokens.js';
import {
  createBrowserKeys,
  decryptPayload,
  verifyVapidAuthorization,
  type BrowserKeys,
} from '../support/web-push-receiver.js';

// Why 40 users x 50 subscriptions: the router puts up to 400 users in one push job and the
// worker sends to all of a job's subscriptions at once, within PUSH_CONCURRENCY send slots, so
// the kill comes in the middle of one job that has had hundreds of its endpoints accepted. Only
// the per-endpoint settled ledger keeps them from being sent again when the job is resumed.
// What a crash can repeat is every send the push service got that the worker had not yet written
// to that ledger. The worker holds one of PUSH_CONCURRENCY send slots from each request until its
// answer is in the ledger, so that is at most PUSH_CONCURRENCY in all, which is asserted; the
// looser "everything the job had sent" (hundreds) would pass a worker that ignored its ledger.
const USERS = 40;
const PER_USER = 50;
const TOTAL = USERS * PER_USER;
const CONCURRENCY = 8;
// About a third of the way through the one job.
const KILL_AT = Math.floor(TOTAL / 3 / PER_USER) * PER_USER + (PER_USER * 4) / 5;
// ~20 ms per answer over 8 connections: about 400 sends a second, so the send lasts seconds.
const ANSWER_DELAY_MS = 20;
const PKG = 'e2e';
const ROUTER_KEY = 'crash-router-key-0123456789abcdef';
const SERVICE_KEY = 'crash-service-key-0123456789abcdef';
const dist = (service: string) => join(process.cwd(), 'dist', 'services', service, 'main.js');

interface Browser {
  user: string;
  keys: BrowserKeys;
}

// Over both transports: HTTP/2 multiplexes the sends on one connection, so a kill cuts them all at once.
for (const http2 of [false, true]) {
  describe(`the push-worker killed with SIGKILL in the middle of a 2,000-subscription send, over HTTP/${http2 ? '2' : '1.1'}`, function () {
    this.timeout(90_000);
    const processes: ServiceProcess[] = [];
    const browsers = new Map<string, Browser>();
    const queuePrefix = `crash${randomUUID().slice(0, 8)}`;
    let pushService: CountingPushService;
    let testDb: TestDatabase;
    let vapidKey: VapidKey;
    let env: Record<string, string>;
    let httpBase: string;

    function start(service: string, extra: Record<string, string> = {}): ServiceProcess {
      const proc = new ServiceProcess(dist(service), { ...env, ...extra });
      processes.push(proc);
      return proc;
    }

    before(async function () {
      pushService = await new CountingPushService(ANSWER_DELAY_MS, { http2 }).start();
      testDb = await createTestDatabase('mysql');
      const database = await startDatabase(testDb.config, testLogger());
      try {
        vapidKey = await createVapidKeyStore(database.dataSource).current(PKG);
        const store = createSubscriptionStore(database.dataSource);
        const rows = Array.from({ length: TOTAL }, (_, i) => {
          const user = `crash-user-${Math.floor(i / PER_USER)}`;
          const path = `/push/${user}/${i % PER_USER}`;
          const browser = { user, keys: createBrowserKeys() };
          browsers.set(path, browser);
          return { path, browser };
        });
        for (let i = 0; i < rows.length; i += 50) {
          await Promise.all(
            rows.slice(i, i + 50).map(({ path, browser }) =>
              store.upsert({
                user: browser.user, package: PKG, endpoint: pushService.endpoint(path),
                p256dh: browser.keys.p256dh, auth: browser.keys.auth, module: null, userAgent: null,
                expirationTime: null, vapidKeyId: vapidKey.id,
              }),
            ),
          );
        }
      } finally {
        await database.close();
      }

      env = {
        AUTH_JWT_SECRET: TEST_JWT_SECRET,
        API_KEYS: `crash-producer:${SERVICE_KEY}:${PKG},crash-router:${ROUTER_KEY}:*:router`,
        PUSH_ALLOW_INSECURE_LOOPBACK: 'true', VAPID_SUBJECT: 'mailto:ops@axion-push.example',
        HTTP_HOST: '127.0.0.1', MQTT_HOST: '127.0.0.1', HTTP_PORT: '0', MQTT_PORT: '0', MQTT_WS_PORT: '0',
        DATABASE_URL: testDb.config.url, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: queuePrefix,
        // A dead worker's jobs are released after 3 s and looked for every 3 s.
        PUSH_CONCURRENCY: String(CONCURRENCY), PUSH_JOB_LOCK_MS: '3000', LOG_LEVEL: 'info',
        PUSH_HTTP2: http2 ? 'always' : 'off',
      };
      const broker = start('broker');
      const { tcpPort } = await broker.waitForLog('mqtt broker listening');
      const api = start('subscription-api');
      const router = start('notify-router', {
        MQTT_URL: `mqtt://127.0.0.1:${tcpPort}`,
        MQTT_USERNAME: 'crash-router',
        MQTT_PASSWORD: ROUTER_KEY,
      });
      const [listening] = await Promise.all([
        api.waitForLog('http api listening'),
        router.waitForLog('notify-router started'),
      ]);
      httpBase = `http://127.0.0.1:${listening['port']}`;
    });

    after(async function () {
      for (const p of processes.reverse()) await p.stop().catch(() => undefined);
      await pushService?.close();
      await testDb?.drop();
      // The queues, and the settled ledger and delivery counts beside them under the same prefix.
      await obliterateQueues(TEST_REDIS_URL, queuePrefix);
    });

    async function notifications(method: string, path: string, body?: unknown) {
      const res = await fetch(`${httpBase}/v1/notifications${path}`, {
        method,
        headers: { 'content-type': 'application/json', 'x-api-key': SERVICE_KEY },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    }

    it('reaches every subscription after a restart, repeating at most PUSH_CONCURRENCY sends made before the kill', async function () {
      const firstWorker = start('push-worker');
      await firstWorker.waitForLog('push-worker started');
      const users = Array.from({ length: USERS }, (_, u) => `crash-user-${u}`);
      const posted = await notifications('POST', '', {
        package: PKG, target: { users }, title: 'Invoice paid', body: 'ACME paid invoice 42',
        data: { invoice: 42 }, ttl: 600, delivery: 'always',
      });
      expect(posted.status, JSON.stringify(posted.body)).to.equal(202);
      const id = posted.body['id'] as string;

      await pushService.waitForReached(KILL_AT, 30_000);
      const killSentAt = performance.now();
      process.kill(firstWorker.pid!, 'SIGKILL');
      await firstWorker.exited;
      // Requests already on the wire may still be read by the push service: let them land.
      await new Promise((r) => setTimeout(r, 500));
      const killedAt = performance.now();
      const reachedAtKill = new Set(pushService.byPath.keys());
      const reachedPerUser = new Map<string, number>();
      for (const path of reachedAtKill) {
        const { user } = browsers.get(path)!;
        reachedPerUser.set(user, (reachedPerUser.get(user) ?? 0) + 1);
      }
      const partlyReached = [...reachedPerUser.values()].filter((n) => n < PER_USER).length;

      const secondWorker = start('push-worker');
      await secondWorker.waitForLog('push-worker started');
      await pushService.waitForReached(TOTAL, 60_000);
      // Every job finished: no further send (and so no late repeat) can come.
      const deadline = Date.now() + 20_000;
      let status;
      do {
        status = await notifications('GET', `/${id}`);
        if (status.body['pushDone'] === USERS) break;
        await new Promise((r) => setTimeout(r, 200));
      } while (Date.now() < deadline);
      expect(status.body, 'every push job done').to.include({ pushQueued: USERS, pushDone: USERS, pending: 0 });

      const repeated = [...pushService.byPath].filter(([, requests]) => requests.length > 1);
      const duplicates = repeated.reduce((n, [, requests]) => n + requests.length - 1, 0);
      // A repeat whose first request the push service had already answered 201 before the kill:
      // the worker had (or was about to have) the answer but had not recorded it as settled.
      const answeredFirst = repeated.filter(([, [first]]) => (first!.answeredAt ?? Infinity) < killSentAt)
        .length;
      // Endpoints of the jobs resumed after the kill that were accepted before it and not sent again.
      const resumedUsers = new Set(
        [...pushService.byPath].filter(([, r]) => r.some((x) => x.at > killedAt)).map(([p]) => browsers.get(p)!.user),
      );
      const skipped = [...reachedAtKill].filter(
        (p) => resumedUsers.has(browsers.get(p)!.user) && pushService.byPath.get(p)!.length === 1,
      ).length;
      const account =
        `reached at kill: ${reachedAtKill.size} (${partlyReached} users part-way, ${skipped} of their ` +
        `endpoints skipped on resume); duplicates: ${duplicates} ` +
        `(${duplicates - answeredFirst} unanswered on the wire, ${answeredFirst} answered 201 before the kill)`;
      if (process.env['TEST_SHOW_SERVICE_LOGS']) {
        process.stderr.write(`${account}; status ${JSON.stringify(status.body)}\n`);
      }
      // The kill really came in the middle of the send.
      expect(reachedAtKill.size).to.be.within(KILL_AT, TOTAL - 1);
      const versions = new Set([...pushService.byPath.values()].flat().map((push) => push.httpVersion));
      expect([...versions], 'HTTP versions the push service saw').to.deep.equal([http2 ? '2.0' : '1.1']);

      expect(pushService.reached).to.equal(TOTAL);
      for (const [path, requests] of repeated) {
        // Only a send already made when the worker died may be repeated, and only once.
        expect(reachedAtKill.has(path), `${path} first reached after the kill yet repeated`).to.equal(true);
        expect(requests, path).to.have.length(2);
        expect(requests[1]!.at, path).to.be.above(killedAt);
      }
      // Each browser can read what it got: the same Message for its user, signed with the key
      // its subscription was made with. Checked for every repeat and 50 others, spread over all users.
      const sample = [...browsers.keys()].filter((_, i) => i % (TOTAL / 50) === 7);
      const createdAt = new Set<string>();
      for (const path of new Set([...sample, ...repeated.map(([p]) => p)])) {
        const { user, keys } = browsers.get(path)!;
        for (const push of pushService.byPath.get(path)!) {
          const message = JSON.parse(
            decryptPayload({ body: push.body, privateKey: keys.privateKey, auth: keys.auth }).toString('utf8'),
          ) as Message;
          expect(message).to.deep.include({
            id, package: PKG, user, title: 'Invoice paid', body: 'ACME paid invoice 42', data: { invoice: 42 },
          });
          createdAt.add(message.createdAt);
          const vapid = verifyVapidAuthorization(String(push.headers.authorization));
          expect(vapid.publicKey).to.equal(vapidKey.publicKey);
          expect(vapid.claims.aud).to.equal(pushService.origin);
        }
      }
      expect(createdAt.size, 'one Message, the same for every browser').to.equal(1);

      // At most PUSH_CONCURRENCY requests to one origin are ever on the wire unanswered.
      expect(duplicates - answeredFirst, account).to.be.at.most(CONCURRENCY);
      // A send holds one of PUSH_CONCURRENCY slots until its answer is in the ledger, so answered
      // and unanswered repeats together stay within it.
      expect(duplicates, account).to.be.at.most(CONCURRENCY);
    });
  });
}
