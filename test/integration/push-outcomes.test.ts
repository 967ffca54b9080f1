import { expect } from 'chai';
import { Redis } from 'ioredis';
import type { PushConfig } from '../../shared/config/index.js';
import { startDatabase, type Database } from '../../shared/database/index.js';
import type { DeliveryCounts } from '../../shared/delivery-status/index.js';
import type { PushAnswer } from '../support/local-push-service.js';
import { eventually, PushWorkerHarness, sleep, testPushConfig, type StoredBrowser } from '../support/push-worker-harness.js';
import { testLogger } from '../support/silent-logger.js';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../support/test-databases.js';

/** How long to watch for a retry that must not come: longer than the first backoff (≤ 1 s). */
const NO_RETRY_WATCH_MS = 1_500;

// Every row over both transports: HTTP/1.1 (undici) and HTTP/2 (our own client, against node:http2).
for (const http2 of ['off', 'always'] as const) {
  describe(`push-worker outcomes by push-service answer, over HTTP/${http2 === 'off' ? '1.1' : '2'}`, function () {
    this.timeout(15_000);
    let testDb: TestDatabase;
    let database: Database;
    let redis: Redis;
    let harness: PushWorkerHarness | undefined;
    /** Every harness of this file, for the last test: what each push service received. */
    const harnesses: PushWorkerHarness[] = [];

    before(async function () {
      testDb = await createTestDatabase('sqlite');
      database = await startDatabase(testDb.config, testLogger());
      redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    });

    after(async function () {
      await redis?.quit();
      await database?.close();
      await testDb?.drop();
    });

    afterEach(async function () {
      await harness?.close();
      harness = undefined;
    });

    async function startWorker(overrides: Partial<PushConfig> = {}): Promise<PushWorkerHarness> {
      harness = await new PushWorkerHarness(database.dataSource, redis, testPushConfig({ http2, ...overrides })).start();
      harnesses.push(harness);
      return harness;
    }

    const finished = (h: PushWorkerHarness, eventId: string, timeoutMs = 5_000) =>
      eventually(() => h.status(eventId), (s: DeliveryCounts) => s.pushDone >= 1, timeoutMs);

    it('records a 201 as sent once, sets last_success_at and finishes the job', async function () {
      const h = await startWorker();
      const service = await h.pushService();
      const browser = await h.subscribe(h.newUser(), service, '/accepts', 201);
      const queuedAt = Date.now();

      const job = await h.push(browser.user, { urgency: 'high', topic: 'invoice-42' });
      const status = await finished(h, job.eventId);

      expect(status).to.include({ sent: 1, pushDone: 1, failed: 0, expired: 0, cleaned: 0 });
      expect(service.requestsTo('/accepts')).to.have.length(1);
      const row = await h.row(browser);
      expect(row).to.include({ active: 'Y', failureCount: 0 });
      expect(row.lastSuccessAt?.getTime()).to.be.within(queuedAt - 1_000, Date.now() + 1_000);
    });

    for (const answer of [404, 410]) {
      it(`deactivates the subscription with reason push-service-${answer} and never retries it`, async function () {
        const h = await startWorker();
        const service = await h.pushService();
        const browser = await h.subscribe(h.newUser(), service, '/gone', answer);

        const job = await h.push(browser.user);
        const status = await finished(h, job.eventId);
        await sleep(NO_RETRY_WATCH_MS);

        expect(status).to.include({ cleaned: 1, pushDone: 1, sent: 0, failed: 0 });
        expect(service.requestsTo('/gone')).to.have.length(1);
        expect(await h.row(browser)).to.include({ active: 'N', deactivatedReason: `push-service-${answer}` });
      });
    }

    for (const answer of [400, 401, 403, 413]) {
      it(`counts a ${answer} as a permanent failure: one request, no retry, the subscription stays active`, async function () {
        const h = await startWorker();
        const service = await h.pushService();
        const browser = await h.subscribe(h.newUser(), service, '/refuses', { status: answer, body: 'refused' });

        const job = await h.push(browser.user);
        const status = await finished(h, job.eventId);
        await sleep(NO_RETRY_WATCH_MS);

        expect(status).to.include({ failed: 1, pushDone: 1, sent: 0, cleaned: 0 });
        expect(service.requestsTo('/refuses')).to.have.length(1);
        expect(await h.row(browser)).to.include({ active: 'Y', failureCount: 1, deactivatedReason: null });
      });
    }

    it('waits at least the Retry-After seconds of a 429 before sending again', async function () {
      const h = await startWorker();
      const service = await h.pushService();
      const busy: PushAnswer = { status: 429, headers: { 'retry-after': '1' } };
      const browser = await h.subscribe(h.newUser(), service, '/busy', busy, 201);

      const job = await h.push(browser.user);
      const [first, second] = await service.waitFor('/busy', 2, 5_000);
      const status = await finished(h, job.eventId);

      expect(second!.at - first!.at).to.be.at.least(1_000);
      expect(status).to.include({ sent: 1, pushDone: 1, failed: 0 });
      expect(service.requestsTo('/busy')).to.have.length(2);
    });

    it('waits until the HTTP-date of a 503 Retry-After before sending again', async function () {
      const h = await startWorker();
      const service = await h.pushService();
      // A whole second (an HTTP-date has no fractions), two to three seconds ahead.
      const retryAt = Math.ceil(Date.now() / 1000) * 1000 + 2_000;
      const unavailable: PushAnswer = { status: 503, headers: { 'retry-after': new Date(retryAt).toUTCString() } };
      const browser = await h.subscribe(h.newUser(), service, '/down', unavailable, 201);

      const job = await h.push(browser.user);
      const [, second] = await service.waitFor('/down', 2, 6_000);
      const status = await finished(h, job.eventId);

      expect(second!.at).to.be.at.least(retryAt);
      expect(status).to.include({ sent: 1, pushDone: 1, failed: 0 });
    });

    const transient: [string, PushAnswer][] = [
      ['a 500', 500],
      ['a connection reset', 'reset'],
      ['no answer before the deadline', 'hang'],
    ];
    for (const [what, answer] of transient) {
      it(`retries after ${what} and delivers the message once`, async function () {
        const h = await startWorker();
        const service = await h.pushService();
        const browser = await h.subscribe(h.newUser(), service, '/flaky', answer, 201);

        const job = await h.push(browser.user);
        const status = await finished(h, job.eventId);

        expect(status).to.include({ sent: 1, pushDone: 1, failed: 0 });
        const requests = service.requestsTo('/flaky');
        expect(requests.map((r) => r.answer)).to.deep.equal([answer, 201]);
        expect(requests[1]!.at - requests[0]!.at).to.be.at.least(500);
        expect((await h.row(browser)).lastSuccessAt).to.not.equal(null);
      });
    }

    it('never sends again to an endpoint that accepted, when a retry is for another of the user\'s endpoints', async function () {
      const h = await startWorker();
      const service = await h.pushService();
      const user = h.newUser();
      await h.subscribe(user, service, '/accepts', 201);
      await h.subscribe(user, service, '/flaky', 500, 201);

      const job = await h.push(user);
      const status = await finished(h, job.eventId);

      expect(status).to.include({ sent: 2, pushDone: 1, failed: 0 });
      expect(service.requestsTo('/flaky')).to.have.length(2);
      expect(service.requestsTo('/accepts')).to.have.length(1);
    });

    it('delivers one job for several users: each endpoint once, with its own user\'s Message, counted per user', async function () {
      const h = await startWorker();
      const service = await h.pushService();
      const users = [h.newUser(), h.newUser(), h.newUser()];
      const browsers: StoredBrowser[] = [];
      for (const [i, user] of users.entries()) {
        browsers.push(await h.subscribe(user, service, `/multi/${i}/a`, 201));
        browsers.push(await h.subscribe(user, service, `/multi/${i}/b`, 201));
      }
      const queuedAt = Date.now();

      const job = await h.pushMany(users);
      const status = await finished(h, job.eventId);

      expect(job.users).to.deep.equal(users);
      expect(status).to.include({ pushDone: 3, sent: 6, failed: 0, expired: 0, cleaned: 0 });
      expect(service.received).to.have.length(6);
      for (const browser of browsers) {
        const requests = service.requestsTo(browser.path);
        expect(requests, browser.path).to.have.length(1);
        expect(requests[0]!.problems, browser.path).to.deep.equal([]);
        const message = JSON.parse(requests[0]!.plaintext!.toString('utf8'));
        expect(message, browser.path).to.deep.equal({ ...job.message, user: browser.user });
        const row = await h.row(browser);
        expect(row, browser.path).to.include({ active: 'Y', failureCount: 0 });
        expect(row.lastSuccessAt?.getTime(), browser.path).to.be.within(queuedAt - 1_000, Date.now() + 1_000);
      }
    });

    it('slows down only the origin that answered 429, while the other keeps receiving', async function () {
      const h = await startWorker();
      const [slow, fast] = [await h.pushService(), await h.pushService()];
      const trigger = h.newUser();
      await h.subscribe(trigger, slow, '/trigger', { status: 429, headers: { 'retry-after': '3' } }, 201);
      const users: string[] = [];
      for (let i = 0; i < 10; i++) {
        users.push(h.newUser());
        await h.subscribe(users[i]!, slow, `/slow/${i}`, 201);
        await h.subscribe(users[i]!, fast, `/fast/${i}`, 201);
      }

      const events = [(await h.push(trigger)).eventId];
      const [refused] = await slow.waitFor('/trigger', 1, 5_000);
      const pauseEnds = refused!.at + 3_000;
      // Five waves of two users over the next 2.4 s, while the slow origin is paused.
      const queuedAt: number[] = [];
      for (let wave = 0; wave < 5; wave++) {
        if (wave > 0) await sleep(600);
        for (const i of [2 * wave, 2 * wave + 1]) {
          queuedAt[i] = Date.now();
          events.push((await h.push(users[i]!)).eventId);
        }
      }
      await Promise.all(users.map((_, i) => fast.waitFor(`/fast/${i}`, 1, 5_000)));
      await Promise.all(users.map((_, i) => slow.waitFor(`/slow/${i}`, 1, 6_000)));
      await slow.waitFor('/trigger', 2, 5_000);

      users.forEach((_, i) => {
        expect(fast.requestsTo(`/fast/${i}`)[0]!.at - queuedAt[i]!, `fast origin, user ${i}`).to.be.below(1_000);
      });
      const lastFast = Math.max(...fast.received.map((r) => r.at));
      expect(lastFast, 'the fast origin kept receiving during the pause').to.be.within(refused!.at + 2_000, pauseEnds);
      const laterSlow = slow.received.filter((r) => r !== refused);
      expect(laterSlow).to.have.length(11);
      expect(Math.min(...laterSlow.map((r) => r.at)), 'the slow origin waited').to.be.at.least(pauseEnds);
      const statuses = await Promise.all(events.map((e) => finished(h, e)));
      expect(statuses.map((s) => s.sent)).to.deep.equal([1, ...users.map(() => 2)]);
    });

    it('gives up as expired, without another request, when the Retry-After is beyond the event\'s TTL', async function () {
      const h = await startWorker();
      const service = await h.pushService();
      const browser = await h.subscribe(h.newUser(), service, '/later', { status: 503, headers: { 'retry-after': '10' } }, 201);

      const job = await h.push(browser.user, { ttl: 2 });
      const status = await finished(h, job.eventId);
      await sleep(Math.max(0, job.expiresAt + 500 - Date.now()));

      expect(status).to.include({ expired: 1, pushDone: 1, sent: 0, failed: 0 });
      expect(service.requestsTo('/later')).to.have.length(1);
    });

    it('stops after maxAttempts requests to an endpoint that always fails, and counts it failed', async function () {
      const h = await startWorker({ maxAttempts: 2 });
      const service = await h.pushService();
      const browser = await h.subscribe(h.newUser(), service, '/broken', 500);

      const job = await h.push(browser.user);
      const status = await finished(h, job.eventId, 8_000);
      await sleep(NO_RETRY_WATCH_MS);

      expect(status).to.include({ failed: 1, pushDone: 1, sent: 0, expired: 0 });
      expect(service.requestsTo('/broken')).to.have.length(2);
    });

    /**
     * How many push jobs a worker holds at once follows their size (job-budget.ts): with 8 send
     * slots a worker holds 64 users' worth. Every endpoint here hangs, so a job stays held until
     * the harness closes, and what the worker took can be read off the queue. (Not in `harnesses`:
     * nothing here is answered.)
     */
    describe('jobs held at once', function () {
      this.timeout(20_000);
      // A deadline longer than the test: the hanging sends keep their jobs.
      const heldJobsWorker = () =>
        new PushWorkerHarness(database.dataSource, redis, testPushConfig({ http2, timeoutMs: 10_000, shutdownTimeoutMs: 500 })).start();

      async function hangingUsers(h: PushWorkerHarness, count: number): Promise<string[]> {
        const service = await h.pushService();
        const users = Array.from({ length: count }, () => h.newUser());
        for (const user of users) await h.subscribe(user, service, `/hang/${user}`, 'hang');
        return users;
      }

      it('holds one large job at a time and leaves the next ones to another worker', async function () {
        harness = await heldJobsWorker();
        const users = await hangingUsers(harness, 3 * 60);
        for (let i = 0; i < 3; i++) await harness.pushMany(users.slice(i * 60, (i + 1) * 60));

        await eventually(() => harness!.jobCounts(), (c) => c.active === 1);
        await sleep(500);
        expect(await harness.jobCounts()).to.deep.equal({ active: 1, waiting: 2 });

        await harness.startAnotherWorker();
        await eventually(() => harness!.jobCounts(), (c) => c.active === 2);
        await sleep(500);
        expect(await harness.jobCounts()).to.deep.equal({ active: 2, waiting: 1 });
      });

      it('takes many one-user jobs at once', async function () {
        harness = await heldJobsWorker();
        const users = await hangingUsers(harness, 40);
        for (const user of users) await harness.push(user);

        const counts = await eventually(() => harness!.jobCounts(), (c) => c.active === 40);
        expect(counts.waiting).to.equal(0);
      });
    });

    it('sent every request above as a real push service accepts it: decrypts to the Message, VAPID verifies, headers valid', function () {
      const checked = harnesses.flatMap((h) =>
        h.services.flatMap((service) =>
          service.received.map((request) => ({ request, jobs: h.jobsByEndpoint.get(`${service.origin}${request.path}`) ?? [] })),
        ),
      );
      expect(checked.length, 'run this test together with the rest of the file').to.be.above(30);

      for (const { request, jobs } of checked) {
        const where = `${request.path} at ${request.at}`;
        expect(request.problems, where).to.deep.equal([]);
        expect(request.httpVersion, where).to.equal(http2 === 'off' ? '1.1' : '2.0');
        const message = JSON.parse(request.plaintext!.toString('utf8'));
        const job = jobs.find((j) => j.eventId === message.id);
        expect(job, `${where}: a Message that was never queued for it`).to.not.equal(undefined);
        expect(message, where).to.deep.equal(job!.message);
        expect(Number(request.headers['ttl']), where).to.be.at.most(job!.ttl);
        expect(request.headers['urgency'], where).to.equal(job!.urgency);
        expect(request.headers['topic'], where).to.equal(job!.topic);
      }
    });
  });
}
