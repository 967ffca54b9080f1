import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { expect } from 'chai';
import { connect as mqttConnect, type MqttClient } from 'mqtt';
import { PrivateRedisServer } from '../support/private-redis-server.js';
import { ServiceProcess } from '../support/service-process.js';
import { createTestDatabase, type TestDatabase } from '../support/test-databases.js';
import { TEST_JWT_SECRET, userToken } from '../support/tokens.js';
import { messageTitle } from '../support/dashboard-messages.js';

const PRODUCER_KEY = 'redis-restart-producer-0123456789';
const ROUTER_KEY = 'redis-restart-router-0123456789';
const dist = (service: string) => join(process.cwd(), 'dist', 'services', service, 'main.js');

describe('accepted events across restarts of Redis and of the router', function () {
  this.timeout(90_000);
  const processes: ServiceProcess[] = [];
  let dashboard: MqttClient | undefined;
  let testDb: TestDatabase;
  const redis = new PrivateRedisServer();

  after(async function () {
    await dashboard?.endAsync(true);
    for (const p of processes.reverse()) await p.stop();
    await testDb?.drop();
    await redis.remove();
  });

  it('routes an event accepted while the router was down, and goes on after Redis restarts', async function () {
    testDb = await createTestDatabase('mysql');
    await redis.start();
    const env = {
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      API_KEYS: `producer:${PRODUCER_KEY}:crm,router:${ROUTER_KEY}:*:router`,
      DATABASE_URL: testDb.config.url,
      REDIS_URL: redis.url,
      HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', MQTT_HOST: '127.0.0.1', MQTT_PORT: '0', MQTT_WS_PORT: '0',
    };
    const broker = new ServiceProcess(dist('broker'), env);
    const api = new ServiceProcess(dist('subscription-api'), env);
    processes.push(broker, api);
    const [{ tcpPort }, { port }] = await Promise.all([broker.waitForLog('mqtt broker listening'), api.waitForLog('http api listening')]);
    const mqttUrl = `mqtt://127.0.0.1:${tcpPort}`;
    const routerEnv = { ...env, MQTT_URL: mqttUrl, MQTT_USERNAME: 'router', MQTT_PASSWORD: ROUTER_KEY };

    const received = new Set<string>();
    dashboard = mqttConnect(mqttUrl, {
      clientId: `dash-${randomUUID()}`, username: 'alice', password: await userToken('alice', ['crm'], { expiresIn: '1h' }), reconnectPeriod: 200,
    });
    dashboard.on('error', () => undefined);
    dashboard.on('message', (_t, payload) => {
      const title = messageTitle(payload);
      if (title !== null) received.add(title);
    });
    await dashboard.subscribeAsync('axion/crm/push/alice', { qos: 1 });

    const post = async (title: string) => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const res = await fetch(`http://127.0.0.1:${port}/v1/notifications`, {
          method: 'POST',
          headers: { 'x-api-key': PRODUCER_KEY, 'content-type': 'application/json' },
          body: JSON.stringify({ id: title.replaceAll(' ', '-'), package: 'crm', target: { user: 'alice' }, title, delivery: 'realtime' }),
        }).catch(() => null);
        // While Redis is away the API answers 503 with Retry-After; a producer tries again.
        if (res?.status === 202) return;
        if (res && res.status !== 503) throw new Error(`unexpected ${res.status}: ${await res.text()}`);
        if (Date.now() > deadline) throw new Error('the API never took the event');
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const arrives = async (title: string) => {
      const deadline = Date.now() + 20_000;
      while (!received.has(title)) {
        if (Date.now() > deadline) throw new Error(`"${title}" never arrived`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };

    // Accepted (202) with no router running: durable in the route queue until one starts.
    await post('accepted while no router ran');
    const router = new ServiceProcess(dist('notify-router'), routerEnv);
    processes.push(router);
    await arrives('accepted while no router ran');

    await redis.stop();
    const refused = await fetch(`http://127.0.0.1:${port}/v1/notifications`, {
      method: 'POST',
      headers: { 'x-api-key': PRODUCER_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ package: 'crm', target: { user: 'alice' }, title: 'x' }),
    });
    expect(refused.status).to.equal(503);
    expect(refused.headers.get('retry-after')).to.match(/^\d+$/);
    await redis.start();
    await post('after redis came back');
    await arrives('after redis came back');
  });
});
