import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { startBroker, type Broker } from '../../services/broker/start-broker.js';
import { createPresenceReader, type PresenceReader } from '../../shared/presence/index.js';
import { obliterateQueues } from '../support/queues.js';
import { testLogger } from '../support/silent-logger.js';
import { TEST_REDIS_URL } from '../support/test-databases.js';
import { TEST_JWT_SECRET, userToken } from '../support/tokens.js';

for (const cluster of [false, true]) describe(`broker presence${cluster ? ', clustered over Redis' : ''}`, function () {
  let broker: Broker;
  let redis: Redis;
  let presence: PresenceReader;
  let prefix: string;
  const clients: MqttClient[] = [];
  /** Persistent sessions to end after each test: clustered brokers keep them in the shared Redis. */
  const persistent: Array<{ user: string; clientId: string }> = [];

  beforeEach(async function () {
    prefix = `test-${randomUUID()}`;
    redis = new Redis(TEST_REDIS_URL);
    presence = createPresenceReader(redis, prefix);
    broker = await startBroker({
      config: { host: '127.0.0.1', tcp: { port: 0, explicit: true }, ws: { port: 0, explicit: true }, cluster },
      auth: { jwtSecret: TEST_JWT_SECRET, apiKeys: [] },
      topicRoot: 'axion',
      redis: { url: TEST_REDIS_URL, queuePrefix: prefix },
      log: testLogger(),
    });
  });

  afterEach(async function () {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    for (const { user, clientId } of persistent.splice(0)) await (await asUser(user, { clientId, clean: true })).endAsync();
    await broker.close();
    await obliterateQueues(redis, prefix);
    await redis.quit();
  });

  async function asUser(user: string, options: IClientOptions & { packages?: string[] } = {}): Promise<MqttClient> {
    const { packages = ['crm'], ...rest } = options;
    if (rest.clean === false) persistent.push({ user, clientId: rest.clientId! });
    const client = await connectAsync(`mqtt://127.0.0.1:${broker.tcpPort}`, {
      username: user, password: await userToken(user, packages), reconnectPeriod: 0, ...rest,
    });
    clients.push(client);
    client.on('error', () => {});
    return client;
  }

  /** Whether `user` of crm is online once presence has settled (writes go out in the background). */
  async function online(user: string, expected: boolean): Promise<boolean> {
    const deadline = Date.now() + 1_000;
    let now = false;
    do {
      now = (await presence.online('crm', [user])).has(user);
      if (now === expected) return now;
      await new Promise((r) => setTimeout(r, 20));
    } while (Date.now() < deadline);
    return now;
  }

  it('counts a user online while subscribed to their push topic, and offline after they leave', async function () {
    const alice = await asUser('alice');
    expect(await online('alice', false)).to.equal(false);

    await alice.subscribeAsync('axion/crm/push/alice', { qos: 1 });
    expect(await online('alice', true)).to.equal(true);

    await alice.endAsync();
    expect(await online('alice', false)).to.equal(false);
  });

  it('counts a persistent session restored without a new SUBSCRIBE as online, until it disconnects', async function () {
    const first = await asUser('alice', { clientId: 'phone', clean: false });
    await first.subscribeAsync('axion/crm/push/alice', { qos: 1 });
    await first.endAsync();
    expect(await online('alice', false)).to.equal(false);

    const back = await asUser('alice', { clientId: 'phone', clean: false });
    expect(await online('alice', true), 'online after coming back').to.equal(true);

    await back.endAsync();
    expect(await online('alice', false), 'offline after leaving').to.equal(false);
  });

  it('does not count a restored subscription that the new token no longer allows', async function () {
    const first = await asUser('alice', { clientId: 'phone', clean: false });
    await first.subscribeAsync('axion/crm/push/alice', { qos: 1 });
    await first.endAsync();

    await asUser('alice', { clientId: 'phone', clean: false, packages: ['billing'] });

    expect(await online('alice', true)).to.equal(false);
  });

  it('keeps a user online when their session is taken over by their own reconnect', async function () {
    const first = await asUser('alice', { clientId: 'tab', clean: false });
    await first.subscribeAsync('axion/crm/push/alice', { qos: 1 });
    const firstClosed = new Promise<void>((resolve) => first.once('close', () => resolve()));

    const second = await asUser('alice', { clientId: 'tab', clean: false });
    await firstClosed;
    // The old connection's disconnect has been handled; the new one still holds the session.
    await new Promise((r) => setTimeout(r, 100));

    expect(await online('alice', true)).to.equal(true);
    await second.endAsync();
    expect(await online('alice', false)).to.equal(false);
  });
});
