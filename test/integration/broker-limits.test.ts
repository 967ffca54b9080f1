import { randomUUID } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import { expect } from 'chai';
import { connect as mqttConnect, connectAsync, type MqttClient } from 'mqtt';
import { WebSocket } from 'ws';
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
  const attempt = (options: Record<string, unknown> = {}, to = url()) => new Promise<'connected' | 'refused'>((resolve) => {
    const client = mqttConnect(to, { username: 'router', password: ROUTER.key, reconnectPeriod: 0, ...options });
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

  /** The fixed header of a packet that says `length` bytes follow (MQTT 3.1.1 §2.2.3). */
  const header = (type: number, length: number) => {
    const bytes = [type << 4];
    do {
      bytes.push((length % 128) | (length >= 128 ? 0x80 : 0));
      length = Math.floor(length / 128);
    } while (length > 0);
    return Buffer.from(bytes);
  };
  const CONNECT = 1;
  const PUBLISH = 3;
  const HUGE = 200_000_000;

  /**
   * Writes `first`, then keeps writing 64 KiB chunks (as a client streaming a huge packet would)
   * until the broker closes the connection; answers how many bytes it got in, or null when the
   * broker was still reading after `withinMs`.
   */
  function streamUntilClosed(
    write: (chunk: Buffer) => void,
    onClose: (fn: () => void) => void,
    first: Buffer,
    withinMs = 1_500,
  ): Promise<number | null> {
    return new Promise((resolve) => {
      let sent = 0;
      const chunk = Buffer.alloc(65_536);
      const pump = setInterval(() => {
        write(chunk);
        sent += chunk.length;
      }, 5);
      const give = (result: number | null) => {
        clearInterval(pump);
        clearTimeout(timer);
        resolve(result);
      };
      const timer = setTimeout(() => give(null), withinMs);
      onClose(() => give(sent));
      write(first);
    });
  }

  it('closes a TCP connection whose CONNECT announces more than the CONNECT limit, before reading it', async function () {
    const socket = tcpConnect(broker.tcpPort, '127.0.0.1');
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    const sent = await streamUntilClosed(
      (chunk) => socket.write(chunk),
      (fn) => socket.once('close', fn),
      header(CONNECT, HUGE),
    );
    socket.destroy();
    expect(sent, 'closed before the body was sent').to.not.equal(null);
    expect(sent!).to.be.below(HUGE);
  });

  it('closes a WebSocket connection whose CONNECT announces more than the limit, across frames', async function () {
    const ws = new WebSocket(`ws://127.0.0.1:${broker.wsPort}/mqtt`, 'mqtt');
    ws.on('error', () => {});
    await new Promise((resolve) => ws.once('open', resolve));
    // Each frame stays under the WebSocket frame limit: only the MQTT length gives the size away.
    const sent = await streamUntilClosed(
      (chunk) => ws.readyState === WebSocket.OPEN && ws.send(chunk.subarray(0, 1_024)),
      (fn) => ws.once('close', fn),
      header(CONNECT, HUGE),
    );
    ws.terminate();
    expect(sent, 'closed before the body was sent').to.not.equal(null);
  });

  it('closes an authenticated session at the header of a publish over the payload limit', async function () {
    const client = await connect();
    const stream = client.stream;
    const sent = await streamUntilClosed(
      (chunk) => !stream.destroyed && stream.write(chunk),
      (fn) => client.once('close', fn),
      header(PUBLISH, HUGE),
    );
    expect(sent, 'closed before the body was sent').to.not.equal(null);
  });

  it('answers 404 to a WebSocket upgrade for a target that is not a URL path, and keeps serving', async function () {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = tcpConnect(broker.wsPort, '127.0.0.1', () => {
        socket.write('GET //[ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      });
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });

    expect(answer).to.match(/^HTTP\/1.1 404/);
    expect(await attempt({}, `ws://127.0.0.1:${broker.wsPort}/mqtt`)).to.equal('connected');
  });

  /** Connects over WebSocket as a browser behind a proxy that sends `X-Forwarded-For`. */
  const viaProxy = (on: Broker, forwardedFor: string) =>
    attempt({ wsOptions: { headers: { 'x-forwarded-for': forwardedFor } } }, `ws://127.0.0.1:${on.wsPort}/mqtt`);

  it('counts WebSocket connections by the peer address when no proxy is trusted, ignoring X-Forwarded-For', async function () {
    const forwarded = ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4'];
    const results = [];
    for (const address of forwarded) results.push(await viaProxy(broker, address));
    expect(results).to.deep.equal(['connected', 'connected', 'connected', 'refused']);
  });

  it('counts WebSocket connections from a trusted proxy by the client address it forwards', async function () {
    const behindProxy = await startBroker({
      config: {
        host: '127.0.0.1', tcp: { port: 0, explicit: true }, ws: { port: 0, explicit: true }, trustedProxies: ['127.0.0.1'],
        limits: { maxConnectionsPerAddress: 3, connectsPerAddressPerMinute: 1_000, maxPayloadBytes: 2_048, maxKeepAliveSeconds: 600 },
      },
      auth: { jwtSecret: TEST_JWT_SECRET, apiKeys: [ROUTER] },
      topicRoot: 'axion',
      redis: { url: TEST_REDIS_URL, queuePrefix: `test-${randomUUID()}` },
      log: testLogger(),
    });
    try {
      const browsers = [];
      for (let i = 1; i <= 4; i++) browsers.push(await viaProxy(behindProxy, `203.0.113.${i}`));
      expect(browsers, 'four browsers').to.deep.equal(['connected', 'connected', 'connected', 'connected']);
      const oneBrowser = [];
      for (let i = 0; i < 3; i++) oneBrowser.push(await viaProxy(behindProxy, '203.0.113.1'));
      expect(oneBrowser, 'one browser, three more tabs').to.deep.equal(['connected', 'connected', 'refused']);
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
      await behindProxy.close();
    }
  });

  it('refuses a session without keep-alive, or with one above the limit', async function () {
    for (const keepalive of [0, 3_600]) expect(await attempt({ keepalive }), `keepalive ${keepalive}`).to.equal('refused');
    expect(await attempt({ keepalive: 60 })).to.equal('connected');
  });
});
