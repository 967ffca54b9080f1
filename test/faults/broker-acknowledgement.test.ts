import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { connectAsync, type MqttClient } from 'mqtt';
import { distMain } from '../support/fleet.js';
import { freePort } from '../support/free-port.js';
import { PrivateRedisServer } from '../support/private-redis-server.js';
import { ServiceProcess } from '../support/service-process.js';
import { TEST_JWT_SECRET, userToken } from '../support/tokens.js';
import { until } from '../support/until.js';

const PRODUCER_KEY = `producer-${randomBytes(12).toString('hex')}`;
const ROUTER_KEY = `router-${randomBytes(12).toString('hex')}`;
/** How long Redis holds back the broker's writes: the window a PUBACK must not be sent in. */
const PAUSE_MS = 1_000;

/** A QoS 1 publish and when its PUBACK came; `onAck` runs the moment it arrives. */
function publishQos1(client: MqttClient, topic: string, payload: string, onAck: () => void = () => undefined) {
  const sent = Date.now();
  return new Promise<number>((resolve, reject) =>
    client.publish(topic, payload, { qos: 1 }, (err) => {
      if (err) return reject(err);
      onAck();
      resolve(Date.now() - sent);
    }),
  );
}

/**
 * A clustered broker (MQTT_CLUSTER: sessions in Redis) as its own process, on a Redis of the
 * test's own that can hold the broker's writes back (CLIENT PAUSE WRITE), so that the moment
 * between PUBACK and the message being kept in Redis is long enough to kill the broker in.
 */
describe('a clustered broker acknowledging QoS 1 publishes', function () {
  this.timeout(60_000);
  const redis = new PrivateRedisServer();
  const clients: MqttClient[] = [];
  let admin: Redis;
  let broker: ServiceProcess;
  let env: Record<string, string>;
  let url = '';

  const startBroker = async () => {
    broker = new ServiceProcess(distMain('broker'), env);
    await broker.waitForLog('mqtt broker listening');
  };
  const connect = async (options: Record<string, unknown>) => {
    const client = await connectAsync(url, { reconnectPeriod: 200, log: () => undefined, ...options });
    client.on('error', () => undefined);
    clients.push(client);
    return client;
  };
  const received = (client: MqttClient) => {
    const got: string[] = [];
    client.on('message', (_topic, payload) => got.push(payload.toString()));
    return got;
  };
  const routerSession = { clientId: 'axion-notify-router', clean: false, username: 'router', password: ROUTER_KEY };
  const dashboardSession = async (user: string) => ({
    clientId: `dash-${user}`, clean: false, username: user, password: await userToken(user, ['crm']),
  });

  before(async function () {
    await redis.start();
    admin = new Redis(redis.url);
    const port = await freePort();
    url = `mqtt://127.0.0.1:${port}`;
    env = {
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      API_KEYS: `producer:${PRODUCER_KEY}:crm,router:${ROUTER_KEY}:*:router`,
      REDIS_URL: redis.url,
      MQTT_CLUSTER: 'true',
      MQTT_HOST: '127.0.0.1', MQTT_PORT: String(port), MQTT_WS_PORT: '0',
      LOG_LEVEL: 'info',
    };
    await startBroker();
  });

  afterEach(async function () {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  });

  after(async function () {
    admin?.disconnect();
    await broker?.stop();
    await redis.remove();
  });

  /** The subscriber's persistent session, subscribed and then away, as a router or tab being restarted. */
  const awaySession = async (options: Record<string, unknown>, topic: string) => {
    const subscriber = await connect(options);
    await subscriber.subscribeAsync(topic, { qos: 1 });
    await subscriber.endAsync();
  };

  const cases = [
    {
      what: "a producer's event, for the router's session",
      topic: 'axion/crm/notify/user/alice',
      subscriber: async () => routerSession,
      subscription: 'axion/+/notify/#',
      publisher: { username: 'producer', password: PRODUCER_KEY },
    },
    {
      what: "the router's realtime message, for a dashboard's session",
      topic: 'axion/crm/push/bob',
      subscriber: () => dashboardSession('bob'),
      subscription: 'axion/crm/push/bob',
      publisher: { username: 'router', password: ROUTER_KEY },
    },
  ];

  for (const c of cases) {
    it(`keeps ${c.what} when the broker is killed the moment it sent the PUBACK`, async function () {
      await awaySession(await c.subscriber(), c.subscription);
      const publisher = await connect({ clientId: `pub-${randomBytes(4).toString('hex')}`, clean: false, ...c.publisher });
      const payload = `kept ${randomBytes(4).toString('hex')}`;

      await admin.call('CLIENT', 'PAUSE', String(PAUSE_MS), 'WRITE');
      const killed = broker.exited;
      const ackMs = await publishQos1(publisher, c.topic, payload, () => process.kill(broker.pid!, 'SIGKILL'));
      await killed;
      await startBroker();
      const back = await connect(await c.subscriber());
      const got = received(back);
      await until(() => got.includes(payload), 'the acknowledged message reached the session', 10_000).catch(() => undefined);

      expect(got, `PUBACK after ${ackMs} ms`).to.include(payload);
      expect(ackMs, 'PUBACK only once Redis took the writes again').to.be.at.least(PAUSE_MS - 50);
    });
  }

  it('sends PUBACKs in the order the PUBLISHes came, a slow store included [MQTT-4.6.0-2]', async function () {
    await awaySession(await dashboardSession('carol'), 'axion/crm/push/carol');
    const router = await connect({ clientId: `pub-${randomBytes(4).toString('hex')}`, clean: true, username: 'router', password: ROUTER_KEY });
    const order: string[] = [];

    await admin.call('CLIENT', 'PAUSE', String(PAUSE_MS / 2), 'WRITE');
    // The first is kept for carol's session (held back by the pause); nobody keeps the second.
    await Promise.all([
      publishQos1(router, 'axion/crm/push/carol', 'stored', () => order.push('stored')),
      publishQos1(router, 'axion/crm/push/nobody', 'not stored', () => order.push('not stored')),
    ]);

    expect(order).to.deep.equal(['stored', 'not stored']);
  });
});
