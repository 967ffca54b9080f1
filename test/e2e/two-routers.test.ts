import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { connectAsync } from 'mqtt';
import { Fleet } from '../support/fleet.js';
import { createTestDatabase } from '../support/test-databases.js';
import { userToken } from '../support/tokens.js';
import { messageTitle } from '../support/dashboard-messages.js';

const PRODUCER_KEY = 'two-routers-producer-0123456789';
const ROUTER_KEY = 'two-routers-router-key-0123456789';

describe('two notify-routers at once', function () {
  this.timeout(90_000);
  const fleet = new Fleet();

  after(async function () {
    await fleet.close();
  });

  it('route every MQTT event without an id exactly once, also when the router holding the intake is killed', async function () {
    fleet.database = await createTestDatabase('mysql');
    const env = fleet.env({ producer: PRODUCER_KEY, router: ROUTER_KEY }, { MQTT_INTAKE_LEASE_MS: '2000' });
    const broker = fleet.start('broker', env);
    const { tcpPort } = await broker.waitForLog('mqtt broker listening');
    const mqttUrl = `mqtt://127.0.0.1:${tcpPort}`;
    const routerEnv = { ...env, MQTT_URL: mqttUrl, MQTT_USERNAME: 'router', MQTT_PASSWORD: ROUTER_KEY };
    const routers = [fleet.start('notify-router', routerEnv), fleet.start('notify-router', routerEnv)];
    await Promise.all(routers.map((r) => r.waitForLog('notify-router started')));

    const received: string[] = [];
    const dashboard = await connectAsync(mqttUrl, {
      clientId: `dash-${randomUUID()}`, username: 'alice', password: await userToken('alice', ['crm']), reconnectPeriod: 0,
    });
    fleet.keep(dashboard);
    dashboard.on('message', (_t, payload) => {
      const title = messageTitle(payload);
      if (title !== null) received.push(title);
    });
    await dashboard.subscribeAsync('axion/crm/push/alice', { qos: 1 });
    const producer = await connectAsync(mqttUrl, {
      clientId: `producer-${randomUUID()}`, username: 'producer', password: PRODUCER_KEY, reconnectPeriod: 0,
    });
    fleet.keep(producer);
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
