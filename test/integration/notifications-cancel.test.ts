import { randomUUID } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import { expect } from 'chai';
import { connectRedis, createRouteQueue } from '../../shared/queue/index.js';
import { QUEUE_NAMES, routeJobId } from '../../shared/topics/index.js';
import { startTestApi, type TestApi } from '../support/test-api.js';
import { testLogger } from '../support/silent-logger.js';
import { TEST_REDIS_URL } from '../support/test-databases.js';

const SERVICE_KEY = 'crm-service-key-0123456789';
const OTHER_KEY = 'billing-service-key-0123456789';

describe('DELETE /v1/notifications/:id on MariaDB and Redis', function () {
  let api: TestApi;
  let routeQueue: Queue;
  const workers: { worker: Worker; connection: ReturnType<typeof connectRedis> }[] = [];

  before(async function () {
    api = await startTestApi({
      database: 'mysql',
      apiKeys: [
        { name: 'crm-app', key: SERVICE_KEY, packages: ['crm'], admin: false, router: false },
        { name: 'billing-app', key: OTHER_KEY, packages: ['billing'], admin: false, router: false },
      ],
    });
    routeQueue = new Queue(QUEUE_NAMES.route, { connection: api.redis, prefix: api.prefix });
  });

  afterEach(async function () {
    for (const { worker, connection } of workers.splice(0)) {
      await worker.close(true);
      connection.disconnect();
    }
  });

  after(async function () {
    await routeQueue?.close();
    await api?.close();
  });

  const asCrm = { 'x-api-key': SERVICE_KEY };
  const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();

  async function schedule(sendAt: string, id = `sched-${randomUUID()}`) {
    const body = { id, package: 'crm', target: { user: 'alice' }, title: 'Reminder', sendAt };
    const res = await api.call('POST', '/v1/notifications', body, asCrm);
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    return { id, body };
  }

  /** A stand-in router on this API's route queue: records what it takes, held until `release`. */
  function startRouter(hold?: Promise<void>) {
    const taken: string[] = [];
    const connection = connectRedis(TEST_REDIS_URL, { log: testLogger(), role: 'test-router' });
    const worker = new Worker(
      QUEUE_NAMES.route,
      async (job: Job) => {
        taken.push((job.data as { id: string }).id);
        await hold;
      },
      { connection, prefix: api.prefix },
    );
    worker.on('error', () => undefined);
    workers.push({ worker, connection });
    return { worker, taken };
  }

  it('removes the delayed route job, shows the notification as cancelled, and no router ever takes it', async function () {
    const { id } = await schedule(inMs(1_500));
    expect(await routeQueue.getJobState(routeJobId(id))).to.equal('delayed');

    const res = await api.call('DELETE', `/v1/notifications/${id}`, undefined, asCrm);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body).to.include({ id, cancelled: true });
    expect(await routeQueue.getJobState(routeJobId(id))).to.equal('unknown');
    expect(await routeQueue.getDelayedCount()).to.equal(0);

    const status = await api.call('GET', `/v1/notifications/${id}`, undefined, asCrm);
    expect(status.body).to.include({ id, cancelled: true, cancelledAt: res.body.cancelledAt, pushQueued: 0 });

    const { taken } = startRouter();
    await new Promise((r) => setTimeout(r, 2_500));
    expect(taken).to.not.include(id);
  });

  it('answers a cancel again as the first one, and refuses a producer repeating the cancelled id with 409', async function () {
    const { id, body } = await schedule(inMs(60_000));
    const first = await api.call('DELETE', `/v1/notifications/${id}`, undefined, asCrm);
    const again = await api.call('DELETE', `/v1/notifications/${id}`, undefined, asCrm);
    expect(again.status).to.equal(200);
    expect(again.body['cancelledAt']).to.equal(first.body['cancelledAt']);

    const repeat = await api.call('POST', '/v1/notifications', body, asCrm);
    expect(repeat.status).to.equal(409);
    expect(repeat.body['error']['message']).to.contain('cancelled');
    expect(await routeQueue.getJobState(routeJobId(id))).to.equal('unknown');
  });

  it('keeps a cancelled event from coming back through any intake adding its route job again', async function () {
    const { id } = await schedule(inMs(60_000));
    expect((await api.call('DELETE', `/v1/notifications/${id}`, undefined, asCrm)).status).to.equal(200);
    // What the MQTT intake (in the router) does with a repeated event: add the same job again.
    const intake = createRouteQueue({ connection: api.redis, prefix: api.prefix, log: testLogger() });
    try {
      const job = { id, package: 'crm', target: { user: 'alice' }, event: { title: 'Reminder', ttl: 60, urgency: 'normal' as const, delivery: 'offline' as const }, acceptedAt: new Date().toISOString(), source: 'mqtt' as const };
      await intake.add(job, 0);
      await intake.addBulk([job]);
    } finally {
      await intake.close();
    }
    expect(await routeQueue.getJobState(routeJobId(id))).to.equal('unknown');
    expect(await routeQueue.getWaitingCount()).to.equal(0);
  });

  it('answers 404 once a router has taken the event, while it routes and after', async function () {
    let release!: () => void;
    const { taken } = startRouter(new Promise<void>((resolve) => (release = resolve)));
    const { id } = await schedule(inMs(300));
    const deadline = Date.now() + 5_000;
    while (!taken.includes(id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(taken).to.include(id);

    const whileRouting = await api.call('DELETE', `/v1/notifications/${id}`, undefined, asCrm);
    expect(whileRouting.status).to.equal(404);
    expect(whileRouting.body['error']['message']).to.contain('already fired');
    release();
    while ((await routeQueue.getJobState(routeJobId(id))) !== 'completed') await new Promise((r) => setTimeout(r, 20));
    const after = await api.call('DELETE', `/v1/notifications/${id}`, undefined, asCrm);
    expect(after.status).to.equal(404);
    const status = await api.call('GET', `/v1/notifications/${id}`, undefined, asCrm);
    expect(status.body['cancelled']).to.equal(false);
  });

  it('either cancels or says it fired when the cancel races the router, never both', async function () {
    const { taken } = startRouter();
    const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => schedule(inMs(400 + i * 10)).then((s) => s.id)));
    await new Promise((r) => setTimeout(r, 380));
    const answers = await Promise.all(ids.map((id) => api.call('DELETE', `/v1/notifications/${id}`, undefined, asCrm)));
    await new Promise((r) => setTimeout(r, 1_000));
    ids.forEach((id, i) => {
      const status = answers[i]!.status;
      expect([200, 404]).to.include(status);
      expect(taken.includes(id), `${id} answered ${status}`).to.equal(status === 404);
    });
  });

  it('answers 404 for an unknown id and for another package\'s notification, and 409 for one never scheduled', async function () {
    expect((await api.call('DELETE', `/v1/notifications/nope-${randomUUID()}`, undefined, asCrm)).status).to.equal(404);
    const { id } = await schedule(inMs(60_000));
    const other = await api.call('DELETE', `/v1/notifications/${id}`, undefined, { 'x-api-key': OTHER_KEY });
    expect(other.status).to.equal(404);
    expect(await routeQueue.getJobState(routeJobId(id))).to.equal('delayed');
    expect((await api.call('DELETE', `/v1/notifications/${id}`)).status).to.equal(401);

    const now = await api.call('POST', '/v1/notifications', { package: 'crm', target: { user: 'alice' }, title: 'Now' }, asCrm);
    const res = await api.call('DELETE', `/v1/notifications/${now.body['id']}`, undefined, asCrm);
    expect(res.status).to.equal(409);
    expect(res.body['error']['message']).to.contain('not scheduled');
  });
});
