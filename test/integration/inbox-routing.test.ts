import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { Queue } from 'bullmq';
import { expect } from 'chai';
import { connectAsync, type MqttClient } from 'mqtt';
import { createInboxStore, createNotificationStore, type InboxStore } from '../../shared/database/index.js';
import { routeJobSchema } from '../../shared/events/index.js';
import type { Service } from '../../shared/lifecycle/index.js';
import { INBOX_PURGE_SCHEDULER_ID, QUEUE_NAMES } from '../../shared/topics/index.js';
import { startNotifyRouter } from '../../services/notify-router/start-notify-router.js';
import { testLogger } from '../support/silent-logger.js';
import { startTestApi, type TestApi } from '../support/test-api.js';
import { TEST_REDIS_URL } from '../support/test-databases.js';
import { userToken } from '../support/tokens.js';

const SERVICE_KEY = 'crm-inbox-service-key-0123456789';
const DAY_MS = 24 * 3600 * 1000;

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the router and the inbox (aedes, MariaDB, Redis)', function () {
  this.timeout(60_000);
  const log = testLogger();
  let api: TestApi;
  let inbox: InboxStore;
  let broker: Aedes;
  let server: Server;
  let mqttUrl: string;
  let router: Service;
  const clients: MqttClient[] = [];

  before(async function () {
    api = await startTestApi({
      database: 'mysql',
      apiKeys: [{ name: 'crm-app', key: SERVICE_KEY, packages: ['crm'], admin: false, router: false }],
    });
    inbox = createInboxStore(api.dataSource);
    broker = await Aedes.createBroker();
    server = createServer(broker.handle);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    mqttUrl = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    router = await startNotifyRouter({
      mqtt: { url: mqttUrl, username: undefined, password: undefined, topicRoot: 'axion' },
      redis: { url: TEST_REDIS_URL, queuePrefix: api.prefix },
      pushAttempts: 1,
      dataSource: api.dataSource,
      log,
      inbox: { seenRetentionDays: 30, notificationRetentionDays: 30, purgeEveryMs: 1_000 },
    });
  });
  after(async function () {
    for (const c of clients) await c.endAsync();
    await router?.close();
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
    server?.close();
    await api?.close();
  });

  const freshUser = () => `u-${randomUUID().slice(0, 8)}`;

  /** A dashboard of `user`: every payload on their push topic, in order. */
  async function dashboard(user: string): Promise<{ client: MqttClient; received: Record<string, unknown>[] }> {
    const received: Record<string, unknown>[] = [];
    const client = await connectAsync(mqttUrl, { clientId: `dash-${randomUUID()}`, reconnectPeriod: 0 });
    clients.push(client);
    client.on('message', (_topic, payload) => received.push(JSON.parse(payload.toString()) as Record<string, unknown>));
    await client.subscribeAsync(`axion/crm/push/${user}`, { qos: 1 });
    return { client, received };
  }

  async function notify(user: string, title: string): Promise<string> {
    const res = await api.call('POST', '/v1/notifications', { package: 'crm', target: { user }, title, delivery: 'realtime' }, { 'x-api-key': SERVICE_KEY });
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    return res.body['id'] as string;
  }

  const asUser = async (user: string) => ({ authorization: `Bearer ${await userToken(user, ['crm'])}` });
  const unseenCounts = (received: Record<string, unknown>[]) => received.filter((m) => m['type'] === 'unseen').map((m) => m['count']);

  it('publishes the unseen count after each Message, and again when the user marks items seen', async function () {
    const user = freshUser();
    const { received } = await dashboard(user);
    const ids: string[] = [];

    for (const [i, title] of ['one', 'two', 'three'].entries()) {
      ids.push(await notify(user, title));
      await until(() => received.length === 2 * (i + 1), `the Message and count of "${title}" arrived`);
    }
    const page = await api.call('GET', '/v1/inbox?package=crm', undefined, await asUser(user));
    const marked = await api.call('POST', '/v1/inbox/seen', { package: 'crm', upTo: page.body['items'][1].cursor }, await asUser(user));
    await until(() => received.length === 7, 'the count after marking seen arrived');

    expect(received.map((m) => m['id'] ?? m['type'])).to.deep.equal([ids[0], 'unseen', ids[1], 'unseen', ids[2], 'unseen', 'unseen']);
    expect(unseenCounts(received)).to.deep.equal([1, 2, 3, 1]);
    expect(marked.body).to.deep.equal({ ok: true, marked: 2, unseen: 1 });
  });

  it('lets a dashboard that reconnects fetch exactly what it missed with after', async function () {
    const user = freshUser();
    const online = await dashboard(user);
    await notify(user, 'while online');
    await until(() => online.received.length === 2, 'the first Message and count arrived');
    const seen = await api.call('GET', '/v1/inbox?package=crm', undefined, await asUser(user));
    const cursor = seen.body['items'][0].cursor as string;
    await online.client.endAsync();

    const missed = [await notify(user, 'away 1'), await notify(user, 'away 2'), await notify(user, 'away 3')];
    await until(async () => (await inbox.countUnseen('crm', [user])).get(user) === 4, 'the missed items are in the inbox');
    const back = await dashboard(user);
    const catchUp = await api.call('GET', `/v1/inbox?package=crm&after=${cursor}`, undefined, await asUser(user));

    expect(catchUp.body['items'].map((i: { notificationId: string }) => i.notificationId)).to.deep.equal([...missed].reverse());
    expect(catchUp.body['unseen']).to.equal(4);
    expect(catchUp.body['next']).to.equal(null);
    expect(back.received).to.deep.equal([]);
  });

  it('keeps one item and an exact count when an event is sent again by the producer over MQTT', async function () {
    const user = freshUser();
    const { received } = await dashboard(user);
    const producer = await connectAsync(mqttUrl, { clientId: `producer-${randomUUID()}`, reconnectPeriod: 0 });
    clients.push(producer);
    const event = JSON.stringify({ id: `again-${randomUUID()}`, title: 'Sent twice', delivery: 'realtime' });

    await producer.publishAsync(`axion/crm/notify/user/${user}`, event, { qos: 1 });
    await until(() => unseenCounts(received).length === 1, 'the first count arrived');
    await producer.publishAsync(`axion/crm/notify/user/${user}`, event, { qos: 1 });
    await until(() => unseenCounts(received).length === 2, 'the second count arrived');

    expect(unseenCounts(received)).to.deep.equal([1, 1]);
    const page = await api.call('GET', '/v1/inbox?package=crm', undefined, await asUser(user));
    expect(page.body['items']).to.have.length(1);
  });

  it('sends one count for a burst of events within the window, the last one exact, and the count after marking seen', async function () {
    const user = freshUser();
    const { received } = await dashboard(user);
    const producer = await connectAsync(mqttUrl, { clientId: `producer-${randomUUID()}`, reconnectPeriod: 0 });
    clients.push(producer);
    // Ten events 20 ms apart: each is committed on its own, all within one or two windows.
    for (let i = 0; i < 10; i++) {
      producer.publish(`axion/crm/notify/user/${user}`, JSON.stringify({ title: `burst ${i}`, delivery: 'realtime' }), { qos: 1 });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await until(() => unseenCounts(received).at(-1) === 10, 'the count of the whole burst arrived');
    const afterBurst = unseenCounts(received);
    const page = await api.call('GET', '/v1/inbox?package=crm&limit=1', undefined, await asUser(user));
    await api.call('POST', '/v1/inbox/seen', { package: 'crm', upTo: page.body['items'][0].cursor }, await asUser(user));
    await until(() => unseenCounts(received).at(-1) === 0, 'the count after marking everything seen arrived');
    await producer.publishAsync(`axion/crm/notify/user/${user}`, JSON.stringify({ title: 'after', delivery: 'realtime' }), { qos: 1 });
    await until(() => unseenCounts(received).at(-1) === 1, 'the count of the next event arrived');

    expect(received.filter((m) => m['type'] !== 'unseen')).to.have.length(11);
    expect(afterBurst.length, `counts of the burst: ${afterBurst.join(', ')}`).to.be.at.most(4);
    expect([...afterBurst].sort((a, b) => Number(a) - Number(b))).to.deep.equal(afterBurst);
    expect(unseenCounts(received).slice(afterBurst.length)).to.deep.equal([0, 1]);
  });

  it('purges items seen longer ago than the retention on its job scheduler, and keeps the rest', async function () {
    const notifications = createNotificationStore(api.dataSource);
    const id = `evt-${randomUUID()}`;
    await notifications.record(routeJobSchema.parse({
      id, package: 'crm', target: { all: true }, event: { title: 'old' }, acceptedAt: new Date().toISOString(), source: 'http',
    }));
    const [old, recent, unseen] = [freshUser(), freshUser(), freshUser()];
    await inbox.add([old, recent, unseen].map((user) => ({ notificationId: id, package: 'crm', user })), new Date(Date.now() - 40 * DAY_MS));
    const everything = { upTo: { createdAt: new Date(), id: '999999999999' } };
    await inbox.markSeen('crm', old, everything, new Date(Date.now() - 31 * DAY_MS));
    await inbox.markSeen('crm', recent, everything, new Date(Date.now() - 29 * DAY_MS));
    const items = async (user: string) => (await inbox.list('crm', user, { state: 'all', limit: 5 })).length;

    await until(async () => (await items(old)) === 0, 'the old seen item was purged', 20_000);

    expect([await items(recent), await items(unseen)]).to.deep.equal([1, 1]);
    const queue = new Queue(QUEUE_NAMES.inbox, { connection: api.redis, prefix: api.prefix });
    try {
      expect(await queue.getJobScheduler(INBOX_PURGE_SCHEDULER_ID)).to.deep.include({ every: 1_000 });
    } finally {
      await queue.close();
    }
  });

  it('purges notifications accepted longer ago than their retention on the same scheduler, once no inbox item shows them', async function () {
    const notifications = createNotificationStore(api.dataSource);
    const [seenLongAgo, stillUnseen] = [`evt-${randomUUID()}`, `evt-${randomUUID()}`];
    for (const id of [seenLongAgo, stillUnseen]) {
      await notifications.record(routeJobSchema.parse({
        id, package: 'crm', target: { all: true }, event: { title: 'old' }, acceptedAt: new Date(Date.now() - 40 * DAY_MS).toISOString(), source: 'http',
      }));
    }
    const [reader, away] = [freshUser(), freshUser()];
    await inbox.add([{ notificationId: seenLongAgo, package: 'crm', user: reader }], new Date(Date.now() - 40 * DAY_MS));
    await inbox.add([{ notificationId: stillUnseen, package: 'crm', user: away }], new Date(Date.now() - 40 * DAY_MS));
    await inbox.markSeen('crm', reader, { upTo: { createdAt: new Date(), id: '999999999999' } }, new Date(Date.now() - 31 * DAY_MS));

    await until(async () => (await notifications.get(seenLongAgo)) === null, 'the old notification was purged', 20_000);

    expect(await notifications.get(stillUnseen)).to.include({ id: stillUnseen });
    expect(await inbox.list('crm', away, { state: 'all', limit: 5 })).to.have.length(1);
  });
});
