import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { connect as mqttConnect, connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { startBroker, type Broker } from '../../services/broker/start-broker.js';
import type { ApiKey } from '../../shared/config/index.js';
import { testLogger } from '../support/silent-logger.js';
import { TEST_REDIS_URL } from '../support/test-databases.js';
import { TEST_JWT_SECRET, userToken } from '../support/tokens.js';

type Role = 'admin' | 'router' | null;
const key = (name: string, packages: ApiKey['packages'], role: Role): ApiKey => ({
  name, key: `${name}-key-0123456789abcdef`, packages,
  admin: role === 'admin', router: role === 'router',
});
const PRODUCER = key('crm-producer', ['crm'], null);
const ADMIN = key('crm-admin', ['crm'], 'admin');
const ROUTER = key('notify-router', '*', 'router');
const OTHER_SECRET = 'another-secret-that-is-long-enough-0123456789';
type Transport = 'tcp' | 'ws';

/** MQTT 3.1.1 §3.2.2.3 CONNACK return codes and §3.9.3 SUBACK failure. */
const IDENTIFIER_REJECTED = 2;
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;
const SUBACK_FAILURE = 0x80;

/** Long enough for a loopback delivery, short enough to keep a negative assertion cheap. */
const WAIT_MS = 1_500;

interface Received { topic: string; payload: string }

describe('broker authentication and topic ACL', function () {
  let broker: Broker;
  const clients: MqttClient[] = [];

  beforeEach(async function () {
    broker = await startBroker({
      config: {
        host: '127.0.0.1', tcp: { port: 0, explicit: true }, ws: { port: 0, explicit: true },
      },
      auth: { jwtSecret: TEST_JWT_SECRET, apiKeys: [PRODUCER, ADMIN, ROUTER] },
      topicRoot: 'axion',
      redis: { url: TEST_REDIS_URL, queuePrefix: `test-${randomUUID()}` },
      log: testLogger(),
    });
  });

  afterEach(async function () {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await broker.close();
  });

  const url = (transport: Transport) => (transport === 'tcp'
    ? `mqtt://127.0.0.1:${broker.tcpPort}`
    : `ws://127.0.0.1:${broker.wsPort}/mqtt`);

  async function connect(options: IClientOptions, transport: Transport = 'tcp') {
    const settings = { reconnectPeriod: 0, connectTimeout: 5_000, ...options };
    const client = await connectAsync(url(transport), settings);
    clients.push(client);
    // A socket reset after the broker cuts a client off must not surface as an unhandled error.
    client.on('error', () => {});
    return client;
  }

  /** The error a refused CONNECT rejects with, or null when the broker accepted it. */
  function refusal(options: IClientOptions, transport: Transport = 'tcp') {
    return connect(options, transport).then(() => null, (err: { code?: number }) => err);
  }

  const asUser = async (user: string, packages = ['crm'], transport: Transport = 'tcp') =>
    connect({ username: user, password: await userToken(user, packages) }, transport);
  const asService = (apiKey: ApiKey) => connect({ username: apiKey.name, password: apiKey.key });

  /** The SUBACK return code for one topic requested at QoS 1. */
  function suback(client: MqttClient, topic: string): Promise<number> {
    return new Promise((resolve, reject) => {
      client.subscribe(topic, { qos: 1 }, (err, _grants, packet) => {
        const code = packet?.granted[0];
        if (typeof code === 'number') resolve(code);
        else reject(err ?? new Error(`no SUBACK for ${topic}`));
      });
    });
  }

  function collect(client: MqttClient): Received[] {
    const received: Received[] = [];
    client.on('message', (topic, payload) => received.push({ topic, payload: payload.toString() }));
    return received;
  }

  async function eventually(received: Received[], count: number): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (received.length < count && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** True when the broker closes the client's connection within WAIT_MS. */
  async function cutOff(client: MqttClient, act: () => void): Promise<boolean> {
    const closed = new Promise<boolean>((r) => client.once('close', () => r(true)));
    act();
    const timeout = new Promise<boolean>((r) => setTimeout(() => r(false), WAIT_MS));
    return Promise.race([closed, timeout]);
  }

  describe('CONNECT', function () {
    const BAD = BAD_USERNAME_OR_PASSWORD;
    const aliceToken = (options = {}) => () => userToken('alice', ['crm'], options);
    const expired = () => Math.floor(Date.now() / 1000) - 60; // a number is an absolute exp
    const foreign = aliceToken({ secret: OTHER_SECRET });
    type Login = [what: string, user: string | null, password: () => Promise<string>, code: number];
    const refusals: Array<[...Login, Transport?]> = [
      ['no credentials', null, async () => '', NOT_AUTHORIZED],
      ['a wrong API key', PRODUCER.name, async () => 'not-the-key-0123456789', BAD],
      ["a real API key under another key's name", ADMIN.name, async () => PRODUCER.key, BAD],
      ['a token signed with another secret', 'alice', foreign, BAD],
      ['a valid token whose sub is not the username', 'bob', aliceToken(), BAD],
      ['an expired token', 'alice', aliceToken({ expiresIn: expired() }), BAD],
      ['a token signed with another secret over WebSocket', 'alice', foreign, BAD, 'ws'],
    ];
    for (const [what, username, password, code, transport] of refusals) {
      it(`refuses ${what} with CONNACK return code ${code}`, async function () {
        const options = username === null ? {} : { username, password: await password() };
        const err = await refusal(options, transport);
        expect(err?.code).to.equal(code);
      });
    }

    it('accepts a valid user token with the user id as username', async function () {
      const alice = await asUser('alice');
      expect(alice.connected).to.equal(true);
    });

    it('accepts a service key with its name as username', async function () {
      const producer = await asService(PRODUCER);
      expect(producer.connected).to.equal(true);
    });
  });

  describe('SUBSCRIBE', function () {
    it('grants a user QoS 1 on their own push topic only', async function () {
      const alice = await asUser('alice');
      expect(await suback(alice, 'axion/crm/push/alice')).to.equal(1);
      const refused = ['axion/crm/push/bob', 'axion/billing/push/alice', 'axion/crm/push/+',
        'axion/+/push/alice', 'axion/#', '#', '$SYS/#'];
      for (const topic of refused) {
        expect(await suback(alice, topic), topic).to.equal(SUBACK_FAILURE);
      }
    });

    it("grants an admin a package's push/+ and delivers the router's publishes", async function () {
      const admin = await asService(ADMIN);
      const router = await asService(ROUTER);
      expect(await suback(admin, 'axion/crm/push/+')).to.equal(1);
      expect(await suback(admin, 'axion/billing/push/+')).to.equal(SUBACK_FAILURE);
      const received = collect(admin);

      await router.publishAsync('axion/crm/push/anyone', 'hello', { qos: 1 });
      await eventually(received, 1);

      expect(received).to.deep.equal([{ topic: 'axion/crm/push/anyone', payload: 'hello' }]);
    });
  });

  describe('PUBLISH', function () {
    it('disconnects a user who publishes anything, even to their own topic', async function () {
      const attempts = [['axion/crm/push/alice', 0], ['axion/crm/notify/user/alice', 1]] as const;
      for (const [topic, qos] of attempts) {
        const alice = await asUser('alice');
        expect(await cutOff(alice, () => alice.publish(topic, 'x', { qos })), topic).to.equal(true);
      }
    });

    it("disconnects a producer who publishes to another package's notify topic", async function () {
      const producer = await asService(PRODUCER);
      const publish = () => producer.publish('axion/billing/notify/all', '{}', { qos: 1 });
      expect(await cutOff(producer, publish)).to.equal(true);
    });

    it('disconnects a producer who publishes to a push topic', async function () {
      const producer = await asService(PRODUCER);
      const publish = () => producer.publish('axion/crm/push/alice', '{}', { qos: 1 });
      expect(await cutOff(producer, publish)).to.equal(true);
    });

    it("delivers a producer's event on its own notify topic to the router", async function () {
      const router = await asService(ROUTER);
      expect(await suback(router, 'axion/+/notify/#')).to.equal(1);
      const received = collect(router);
      const producer = await asService(PRODUCER);

      await producer.publishAsync('axion/crm/notify/user/alice', '{"title":"hi"}', { qos: 1 });
      await eventually(received, 1);

      const event = { topic: 'axion/crm/notify/user/alice', payload: '{"title":"hi"}' };
      expect(received).to.deep.equal([event]);
      expect(producer.connected).to.equal(true);
    });
  });

  describe('delivery', function () {
    it("delivers the router's publish to alice and not to bob", async function () {
      const alice = await asUser('alice');
      const bob = await asUser('bob');
      expect(await suback(alice, 'axion/crm/push/alice')).to.equal(1);
      expect(await suback(bob, 'axion/crm/push/bob')).to.equal(1);
      expect(await suback(bob, 'axion/crm/push/alice')).to.equal(SUBACK_FAILURE);
      const toAlice = collect(alice);
      const toBob = collect(bob);
      const router = await asService(ROUTER);

      await router.publishAsync('axion/crm/push/alice', 'for alice', { qos: 1 });
      // Bob's own message, published after, shows that anything meant for him has arrived.
      await router.publishAsync('axion/crm/push/bob', 'for bob', { qos: 1 });
      await eventually(toAlice, 1);
      await eventually(toBob, 1);

      expect(toAlice).to.deep.equal([{ topic: 'axion/crm/push/alice', payload: 'for alice' }]);
      expect(toBob).to.deep.equal([{ topic: 'axion/crm/push/bob', payload: 'for bob' }]);
    });

    it('delivers to a user connected over WebSocket at /mqtt', async function () {
      const alice = await asUser('alice', ['crm'], 'ws');
      expect(await suback(alice, 'axion/crm/push/alice')).to.equal(1);
      expect(await suback(alice, 'axion/crm/push/bob')).to.equal(SUBACK_FAILURE);
      const received = collect(alice);
      const router = await asService(ROUTER);

      await router.publishAsync('axion/crm/push/alice', 'over ws', { qos: 1 });
      await eventually(received, 1);

      expect(received).to.deep.equal([{ topic: 'axion/crm/push/alice', payload: 'over ws' }]);
    });

    it("logs a browser in over WebSocket with its access_token cookie, and refuses a bad cookie", async function () {
      const token = await userToken('alice', ['crm']);
      const page = { origin: 'http://localhost:3000' };
      const viaCookie = await connect({ wsOptions: { headers: { ...page, cookie: `theme=dark; access_token=${token}` } } }, 'ws');
      expect(await suback(viaCookie, 'axion/crm/push/alice')).to.equal(1);

      const forged = await userToken('alice', ['crm'], { secret: 'another-secret-that-is-also-long-enough-000' });
      const err = await refusal({ wsOptions: { headers: { ...page, cookie: `access_token=${forged}` } } }, 'ws');
      expect(err?.code).to.equal(4);
      // Another site's page cannot use the cookie the browser would send along.
      const foreign = await refusal({ wsOptions: { headers: { origin: 'https://evil.example', cookie: `access_token=${token}` } } }, 'ws');
      expect(foreign?.code).to.equal(5);
      // A cookie that is not valid percent-encoding is refused, not a crash.
      const garbled = await refusal({ wsOptions: { headers: { ...page, cookie: 'access_token=%E0%A4%A' } } }, 'ws');
      expect(garbled?.code).to.equal(5);
    });
  });

  describe('client ids', function () {
    const withId = async (user: string, clientId: string, options: IClientOptions = {}) =>
      connect({ clientId, username: user, password: await userToken(user, ['crm']), ...options });
    const PUSH_ALICE = 'axion/crm/push/alice';

    it('does not let another user take over a session by its client id', async function () {
      const alice = await withId('alice', 'dashboard');
      expect(await suback(alice, PUSH_ALICE)).to.equal(1);
      const received = collect(alice);

      expect(await cutOff(alice, () => void withId('bob', 'dashboard')), 'alice was disconnected').to.equal(false);
      await (await asService(ROUTER)).publishAsync(PUSH_ALICE, 'still here', { qos: 1 });
      await eventually(received, 1);

      expect(received).to.deep.equal([{ topic: PUSH_ALICE, payload: 'still here' }]);
    });

    it("keeps a user's persistent session, with what it missed, from another user who uses its client id", async function () {
      const away = await withId('alice', 'phone', { clean: false });
      expect(await suback(away, PUSH_ALICE)).to.equal(1);
      await away.endAsync();
      // A clean session under the same client id would end the stored one, were it the same session.
      await (await withId('bob', 'phone', { clean: true })).endAsync();

      await (await asService(ROUTER)).publishAsync(PUSH_ALICE, 'while away', { qos: 1 });
      // Listening from the start: kept messages follow the CONNACK at once.
      const back = mqttConnect(url('tcp'), {
        clientId: 'phone', clean: false, username: 'alice', password: await userToken('alice', ['crm']), reconnectPeriod: 0,
      });
      clients.push(back);
      const received = collect(back);
      await eventually(received, 1);

      expect(received).to.deep.equal([{ topic: PUSH_ALICE, payload: 'while away' }]);
    });

    it('lets a user take over their own session, as a reloaded tab does', async function () {
      const first = await withId('alice', 'tab-1');
      let second: MqttClient | undefined;

      expect(await cutOff(first, () => void withId('alice', 'tab-1').then((c) => (second = c)))).to.equal(true);
      await new Promise((r) => setTimeout(r, 50));
      expect(second?.connected).to.equal(true);
    });

    it("refuses the routers' shared client id to a user or a producer with CONNACK 2", async function () {
      const logins = [
        { username: 'alice', password: await userToken('alice', ['crm']) },
        { username: PRODUCER.name, password: PRODUCER.key },
      ];
      for (const login of logins) {
        const err = await refusal({ clientId: 'axion-notify-router', ...login });
        expect(err?.code, login.username).to.equal(IDENTIFIER_REJECTED);
      }
      const router = await connect({ clientId: 'axion-notify-router', username: ROUTER.name, password: ROUTER.key });
      expect(router.connected).to.equal(true);
    });
  });
});
