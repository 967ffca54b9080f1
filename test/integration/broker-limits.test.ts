import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { connect as mqttConnect, connectAsync, type MqttClient } from 'mqtt';
import { startBroker, type Broker } from '../../services/broker/start-broker.js';
import { testLogger } from '../support/silent-logger.js';
import { TEST_REDIS_URL } from '../support/test-databases.js';
import { TEST_JWT_SECRET } from '../support/tokens.js';

const ROUTER = { name: 'router', key: 'router-key-0123456789abcdef', packages: '*' as const, admin: false, router: true };

describe('broker limits', function () {
  let broker: Broker;
  const clients: MqttClient[] = [];

  before(async function () {
    broker = await startBroker({
      config: {
        host: '127.0.0.1',
        tcp: { port: 0, explicit: true },
        ws: { port: 0, explicit: true },
        limits: { maxConnectionsPerAddress: 3, connectsPerAddressPerMinute: 1_000, maxPayloadBytes: 2_048, maxKeepAliveSeconds: 600 },
      },
      auth: { jwtSecret: TEST_JWT_SECRET, apiKeys: [ROUTER] },
      topicRoot: 'axion',
      redis: { url: TEST_REDIS_URL, queuePrefix: `test-${randomUUID()}` },
      log: testLogger(),
    });
  });

  afterEach(async function () {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  });

  after(async function () {
    await broker?.close();
  });

  const url = () => `mqtt://127.0.0.1:${broker.tcpPort}`;
  const connect = async (options: Record<string, unknown> = {}) => {
    const client = await connectAsync(url(), {
      username: 'router', password: ROUTER.key, reconnectPeriod: 0, connectTimeout: 2_000, ...options,
    });
    clients.push(client);
    return client;
  };
  /** Connects and says whether the broker let the session in ('connected') or shut it ('refused'). */
  const attempt = (options: Record<string, unknown> = {}) => new Promise<'connected' | 'refused'>((resolve) => {
    const client = mqttConnect(url(), { username: 'router', password: ROUTER.key, reconnectPeriod: 0, ...options });
    clients.push(client);
    client.once('connect', () => resolve('connected'));
    client.once('error', () => resolve('refused'));
    client.once('close', () => resolve('refused'));
  });
  const closed = (client: MqttClient) => new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 1_500);
    client.once('close', () => { clearTimeout(timer); resolve(true); });
  });

  it('refuses a connection beyond the limit per address', async function () {
    expect(await Promise.all([attempt(), attempt(), attempt()])).to.deep.equal(['connected', 'connected', 'connected']);
    expect(await attempt()).to.equal('refused');
  });

  it('disconnects a client that publishes more than the payload limit', async function () {
    const client = await connect();
    const gone = closed(client);
    client.publish('axion/crm/push/alice', Buffer.alloc(4_096), { qos: 0 });
    expect(await gone).to.equal(true);
  });

  it('refuses a session without keep-alive, or with one above the limit', async function () {
    for (const keepalive of [0, 3_600]) expect(await attempt({ keepalive }), `keepalive ${keepalive}`).to.equal('refused');
    expect(await attempt({ keepalive: 60 })).to.equal('connected');
  });
});
