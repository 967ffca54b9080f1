import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { connect as mqttConnect, connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { startBroker, type Broker } from '../../services/broker/start-broker.js';
import type { ApiKey } from '../../shared/config/index.js';
import { testLogger } from '../support/silent-logger.js';
import { TEST_REDIS_URL } from '../support/test-databases.js';
import { TEST_JWT_SECRET, userToken } from '../support/tokens.js';

const ROUTER: ApiKey = { name: 'notify-router', key: 'notify-router-key-0123456789', packages: '*', admin: false, router: true };
const PRODUCER: ApiKey = { name: 'crm-producer', key: 'crm-producer-key-0123456789', packages: ['crm'], admin: false, router: false };
/** MQTT 3.1.1 §3.2.2.3: the client identifier is not allowed by the server. */
const IDENTIFIER_REJECTED = 2;
/** Long enough for a loopback takeover or delivery, short enough for a negative assertion. */
const WAIT_MS = 1_000;

describe('broker client ids', function () {
  let broker: Broker;
  const clients: MqttClient[] = [];

  beforeEach(async function () {
    broker = await startBroker({
      config: { host: '127.0.0.1', tcp: { port: 0, explicit: true }, ws: { port: 0, explicit: true } },
      auth: { jwtSecret: TEST_JWT_SECRET, apiKeys: [ROUTER, PRODUCER] },
      topicRoot: 'axion',
      redis: { url: TEST_REDIS_URL, queuePrefix: `test-${randomUUID()}` },
      log: testLogger(),
    });
  });

  afterEach(async function () {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await broker.close();
  });

  async function connect(options: IClientOptions): Promise<MqttClient> {
    const client = await connectAsync(`mqtt://127.0.0.1:${broker.tcpPort}`, { reconnectPeriod: 0, ...options });
    clients.push(client);
    client.on('error', () => {});
    return client;
  }
  const asUser = async (user: string, clientId: string, options: IClientOptions = {}) =>
    connect({ clientId, username: user, password: await userToken(user, ['crm']), ...options });
  const asRouter = () => connect({ username: ROUTER.name, password: ROUTER.key });

  /** True when the broker closes the client's connection within WAIT_MS. */
  const closedSoon = (client: MqttClient) => new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), WAIT_MS);
    client.once('close', () => { clearTimeout(timer); resolve(true); });
  });
  const nextMessage = (client: MqttClient) => new Promise<string | null>((resolve) => {
    const timer = setTimeout(() => resolve(null), WAIT_MS);
    client.once('message', (_topic, payload) => { clearTimeout(timer); resolve(payload.toString()); });
  });

  it("does not let another user take over a session by its client id", async function () {
    const alice = await asUser('alice', 'dashboard');
    await alice.subscribeAsync('axion/crm/push/alice', { qos: 1 });
    const aliceClosed = closedSoon(alice);

    const bob = await asUser('bob', 'dashboard');

    expect(bob.connected).to.equal(true);
    expect(await aliceClosed, 'alice was disconnected').to.equal(false);
    const received = nextMessage(alice);
    await (await asRouter()).publishAsync('axion/crm/push/alice', 'still here', { qos: 1 });
    expect(await received).to.equal('still here');
  });

  it("keeps a user's persistent session, with what it missed, from another user who uses its client id", async function () {
    const away = await asUser('alice', 'phone', { clean: false });
    await away.subscribeAsync('axion/crm/push/alice', { qos: 1 });
    await away.endAsync();
    // A clean session under the same client id would end the stored one, were it the same session.
    const bob = await asUser('bob', 'phone', { clean: true });
    await bob.endAsync();

    await (await asRouter()).publishAsync('axion/crm/push/alice', 'while away', { qos: 1 });
    // Listening from the start: kept messages follow the CONNACK at once.
    const back = mqttConnect(`mqtt://127.0.0.1:${broker.tcpPort}`, {
      clientId: 'phone', clean: false, username: 'alice', password: await userToken('alice', ['crm']), reconnectPeriod: 0,
    });
    clients.push(back);
    expect(await nextMessage(back)).to.equal('while away');
  });

  it('lets a user take over their own session, as a reloaded tab does', async function () {
    const first = await asUser('alice', 'tab-1');
    const firstClosed = closedSoon(first);

    const second = await asUser('alice', 'tab-1');

    expect(await firstClosed).to.equal(true);
    await second.subscribeAsync('axion/crm/push/alice', { qos: 1 });
    const received = nextMessage(second);
    await (await asRouter()).publishAsync('axion/crm/push/alice', 'to the new tab', { qos: 1 });
    expect(await received).to.equal('to the new tab');
  });

  it("refuses the routers' shared client id to a user or a producer with CONNACK 2", async function () {
    const refusals = [
      { username: 'alice', password: await userToken('alice', ['crm']) },
      { username: PRODUCER.name, password: PRODUCER.key },
    ];
    for (const login of refusals) {
      const err = await connect({ clientId: 'axion-notify-router', ...login }).then(() => null, (e: { code?: number }) => e);
      expect(err?.code, login.username).to.equal(IDENTIFIER_REJECTED);
    }
    const router = await connect({ clientId: 'axion-notify-router', username: ROUTER.name, password: ROUTER.key });
    expect(router.connected).to.equal(true);
  });
});
