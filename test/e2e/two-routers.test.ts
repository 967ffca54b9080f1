import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { expect } from 'chai';
import { connectAsync, type MqttClient } from 'mqtt';
import { obliterateQueues } from '../support/queues.js';
import { ServiceProcess } from '../support/service-process.js';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '../support/test-databases.js';
import { TEST_JWT_SECRET, userToken } from '../support/tokens.js';

const PRODUCER_KEY = 'two-routers-producer-0123456789';
const ROUTER_KEY = 'two-routers-router-key-0123456789';
const dist = (service: string) => join(process.cwd(), 'dist', 'services', service, 'main.js');

describe('two notify-routers at once', function () {
  this.timeout(90_000);
  const processes: ServiceProcess[] = [];
  const clients: MqttClient[] = [];
  let testDb: TestDatabase;
  const prefix = `e2e${randomUUID().slice(0, 8)}`;

  after(async function () {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    for (const p of processes.reverse()) await p.stop();
    await testDb?.drop();
    await obliterateQueues(TEST_REDIS_URL, prefix);
  });

  it('route every MQTT event without an id exactly once, also when the router holding the intake is killed', async function () {
    testDb = await createTestDatabase('mysql');
    const env = {
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      API_KEYS: `producer:${PRODUCER_KEY}:crm,router:${ROUTER_KEY}:*:router`,
      DATABASE_URL: testDb.config.url,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: '0',
      MQTT_WS_PORT: '0',
      MQTT_INTAKE_LEASE_MS: '2000',
    };
    const broker = new ServiceProcess(dist('broker'), env);
    processes.push(broker);
    const { tcpPort } = await broker.waitForLog('mqtt broker listening');
    const mqttUrl = `mqtt://127.0.0.1:${tcpPort}`;
    const routerEnv = { ...env, MQTT_URL: mqttUrl, MQTT_USERNAME: 'router', MQTT_PASSWORD: ROUTER_KEY };
    const routers = [new ServiceProcess(dist('notify-router'), routerEnv), new ServiceProcess(dist('notify-router'), routerEnv)];
    processes.push(...routers);
    await Promise.all(routers.map((r) => r.waitForLog('notify-router started')));

    const received: string[] = [];
    const dashboard = await connectAsync(mqttUrl, {
      clientId: `dash-${randomUUID()}`, username: 'alice', password: await userToken('alice', ['crm']), reconnectPeriod: 0,
    });
    clients.push(dashboard);
    dashboard.on('message', (_t, payload) => received.push((JSON.parse(payload.toString()) as { title: string }).title));
    await dashboard.subscribeAsync('axion/crm/push/alice', { qos: 1 });
    const producer = await connectAsync(mqttUrl, {
      clientId: `producer-${randomUUID()}`, username: 'producer', password: PRODUCER_KEY, reconnectPeriod: 0,
    });
    clients.push(producer);
    const publish = (title: string) =>
      producer.publishAsync('axion/crm/notify/user/alice', JSON.stringify({ title, delivery: 'realtime' }), { qos: 1 });
    const waitForTitles = async (count: number, deadlineMs: number) => {
      const deadline = Date.now() + deadlineMs;
      while (new Set(received).size < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    };

    for (let i = 0; i < 30; i++) await publish(`before-${i}`);
    await waitForTitles(30, 15_000);

    const leader = routers.find((r) => r.lines.some((l) => l.msg === 'holding the MQTT intake lease; starting intake'));
    expect(leader, 'one router holds the intake').to.not.equal(undefined);
    expect(routers.filter((r) => r.lines.some((l) => l.msg === 'holding the MQTT intake lease; starting intake'))).to.have.length(1);
    process.kill(leader!.pid!, 'SIGKILL');
    for (let i = 0; i < 30; i++) await publish(`after-${i}`);
    await waitForTitles(60, 30_000);
    // Time for a late repeat to show up, if one were coming.
    await new Promise((r) => setTimeout(r, 1_000));

    const expected = [...Array.from({ length: 30 }, (_, i) => `before-${i}`), ...Array.from({ length: 30 }, (_, i) => `after-${i}`)];
    expect([...received].sort()).to.deep.equal(expected.sort());
  });
});
