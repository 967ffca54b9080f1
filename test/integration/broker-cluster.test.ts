import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { connectAsync, type MqttClient } from 'mqtt';
import { startBroker, type Broker } from '../../services/broker/start-broker.js';
import { testLogger } from '../support/silent-logger.js';
import { TEST_REDIS_URL } from '../support/test-databases.js';
import { TEST_JWT_SECRET, userToken } from '../support/tokens.js';

const ROUTER = { name: 'router', key: 'cluster-router-key-0123456789', packages: '*' as const, admin: false, router: true };

/**
 * aedes-persistence-redis keeps each QoS 1 packet under `packet:<broker id>:<n>` (and its
 * `:offlineCount`) beside the sessions, and the ones past a session's limit stay after the
 * session is wiped: this test's own (found by its user's topic) are removed, so runs leave
 * nothing in the shared Redis.
 */
async function removeStoredPackets(topic: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    const marker = Buffer.from(topic);
    for await (const keys of redis.scanStream({ match: 'packet:*', count: 500 }) as AsyncIterable<string[]>) {
      for (const key of keys) {
        const stored = await redis.getBuffer(key);
        // With the packet goes its `:offlineCount` (how many sessions still hold it).
        if (stored?.includes(marker)) await redis.del(key, `${key}:offlineCount`);
      }
    }
  } finally {
    redis.disconnect();
  }
}

describe('two clustered brokers sharing Redis', function () {
  const brokers: Broker[] = [];
  const clients: MqttClient[] = [];
  const user = `u${randomUUID().slice(0, 8)}`;

  before(async function () {
    for (let i = 0; i < 2; i++) {
      brokers.push(
        await startBroker({
          config: {
            host: '127.0.0.1', tcp: { port: 0, explicit: true }, ws: { port: 0, explicit: true },
            cluster: true, maxSessionMessages: 3,
          },
          auth: { jwtSecret: TEST_JWT_SECRET, apiKeys: [ROUTER] },
          topicRoot: 'axion',
          redis: { url: TEST_REDIS_URL, queuePrefix: `test-${randomUUID()}` },
          log: testLogger(),
        }),
      );
    }
  });

  after(async function () {
    // Leave no session behind in the shared Redis: reconnect clean once, then close everything.
    const token = await userToken(user, ['crm']);
    const wipe = await connectAsync(`mqtt://127.0.0.1:${brokers[0]!.tcpPort}`, { clientId: `dash-${user}`, clean: true, username: user, password: token });
    await wipe.endAsync();
    await Promise.all(clients.map((c) => c.endAsync(true)));
    for (const broker of brokers) await broker.close();
    await removeStoredPackets(`axion/crm/push/${user}`);
  });

  const on = async (broker: Broker, options: Record<string, unknown>) => {
    const client = await connectAsync(`mqtt://127.0.0.1:${broker.tcpPort}`, { reconnectPeriod: 0, ...options });
    clients.push(client);
    return client;
  };
  const collect = (client: MqttClient) => {
    const got: string[] = [];
    client.on('message', (_t, payload) => got.push(payload.toString()));
    return got;
  };
  const settle = () => new Promise((r) => setTimeout(r, 500));

  it('delivers a message published on one broker to a subscriber on the other', async function () {
    const token = await userToken(user, ['crm']);
    const dashboard = await on(brokers[1]!, { clientId: `dash-${user}`, clean: false, username: user, password: token });
    const got = collect(dashboard);
    await dashboard.subscribeAsync(`axion/crm/push/${user}`, { qos: 1 });
    const router = await on(brokers[0]!, { clientId: `router-${randomUUID()}`, username: 'router', password: ROUTER.key });

    await router.publishAsync(`axion/crm/push/${user}`, 'across brokers', { qos: 1 });
    await settle();

    expect(got).to.deep.equal(['across brokers']);
    await dashboard.endAsync();
  });

  it('keeps QoS 1 messages for a persistent session while it is away, up to the limit, and delivers them on either broker', async function () {
    const router = await on(brokers[0]!, { clientId: `router-${randomUUID()}`, username: 'router', password: ROUTER.key });
    for (let i = 1; i <= 5; i++) await router.publishAsync(`axion/crm/push/${user}`, `away ${i}`, { qos: 1 });
    await settle();

    const token = await userToken(user, ['crm']);
    const back = await on(brokers[0]!, { clientId: `dash-${user}`, clean: false, username: user, password: token });
    const got = collect(back);
    await settle();

    expect(got.length).to.be.within(1, 3);
    for (const message of got) expect(message).to.match(/^away [1-5]$/);
  });
});
