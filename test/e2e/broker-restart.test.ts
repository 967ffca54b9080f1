import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { connect as mqttConnect } from 'mqtt';
import { freePort } from '../support/free-port.js';
import { Fleet } from '../support/fleet.js';
import { createTestDatabase } from '../support/test-databases.js';
import { userToken } from '../support/tokens.js';
import { messageTitle } from '../support/dashboard-messages.js';

const PRODUCER_KEY = 'restart-producer-key-0123456789';
const ROUTER_KEY = 'restart-router-key-0123456789';

describe('the router across a broker restart', function () {
  this.timeout(90_000);
  const fleet = new Fleet();

  after(async function () {
    await fleet.close();
  });

  it('reconnects, subscribes again and goes on routing events from producers', async function () {
    fleet.database = await createTestDatabase('mysql');
    const mqttPort = await freePort();
    const env = fleet.env({ producer: PRODUCER_KEY, router: ROUTER_KEY }, { MQTT_PORT: String(mqttPort) });
    const mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
    let broker = fleet.start('broker', env);
    await broker.waitForLog('mqtt broker listening');
    const router = fleet.start('notify-router', {
      ...env, MQTT_URL: mqttUrl, MQTT_USERNAME: 'router', MQTT_PASSWORD: ROUTER_KEY,
    });
    await router.waitForLog('notify-router started');

    // Clients that reconnect by themselves, as dashboards and producers do.
    const received = new Set<string>();
    const dashboard = mqttConnect(mqttUrl, {
      clientId: `dash-${randomUUID()}`, username: 'alice', password: await userToken('alice', ['crm'], { expiresIn: '1h' }),
      reconnectPeriod: 200,
    });
    const producer = mqttConnect(mqttUrl, {
      clientId: `producer-${randomUUID()}`, username: 'producer', password: PRODUCER_KEY, reconnectPeriod: 200,
    });
    for (const c of [fleet.keep(dashboard), fleet.keep(producer)]) c.on('error', () => undefined);
    dashboard.on('message', (_t, payload) => {
      const title = messageTitle(payload);
      if (title !== null) received.add(title);
    });
    dashboard.on('connect', () => void dashboard.subscribeAsync('axion/crm/push/alice', { qos: 1 }));
    const waitFor = async (title: string, ms = 20_000) => {
      const deadline = Date.now() + ms;
      while (!received.has(title)) {
        if (Date.now() > deadline) throw new Error(`"${title}" never arrived`);
        // Producers publish again until the event gets through: the router de-duplicates by id.
        if (producer.connected) producer.publish('axion/crm/notify/user/alice', JSON.stringify({ id: title.replaceAll(' ', '-'), title, delivery: 'realtime' }), { qos: 1 });
        await new Promise((r) => setTimeout(r, 300));
      }
    };

    await waitFor('before the restart');
    expect(await broker.stop()).to.equal(0);
    broker = fleet.start('broker', env);
    await broker.waitForLog('mqtt broker listening');
    await waitFor('after the restart');

    expect([...received]).to.have.members(['before the restart', 'after the restart']);
  });
});
