import { expect } from 'chai';
import { Fleet } from '../support/fleet.js';
import { LocalPushService } from '../support/local-push-service.js';
import type { ServiceProcess } from '../support/service-process.js';
import { createTestDatabase } from '../support/test-databases.js';
import { openPush, postNotification, subscribeUser, waitForMessage, type Deployment } from '../support/whole-path.js';

const KEYS = { producer: 'crm-producer-key-0123456789abcdef', router: 'router-key-0123456789abcdef' };

/**
 * A scheduled notification cancelled through an API process started after it was scheduled,
 * with the four services apart (MariaDB, shared Redis): the cancelled one never reaches the
 * dashboard nor the browser when its time passes; the one beside it does.
 */
describe('cancelling a scheduled notification, services apart', function () {
  this.timeout(60_000);
  const fleet = new Fleet();
  let pushService: LocalPushService;
  let env: Record<string, string>;

  before(async function () {
    pushService = await new LocalPushService().start();
    fleet.database = await createTestDatabase('mysql');
    env = fleet.env(KEYS, { HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', PUSH_ALLOW_INSECURE_LOOPBACK: 'true' });
  });

  after(async function () {
    await fleet.close();
    await pushService?.close();
  });

  async function startApi(): Promise<{ process: ServiceProcess; base: string }> {
    const api = fleet.start('subscription-api', env);
    return { process: api, base: `http://127.0.0.1:${(await api.waitForLog('http api listening'))['port']}` };
  }

  const asProducer = { 'content-type': 'application/json', 'x-api-key': KEYS.producer };
  async function call(base: string, method: string, path: string, body?: unknown) {
    const res = await fetch(`${base}${path}`, { method, headers: asProducer, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }

  it('survives an API restart, and only the notification not cancelled fires', async function () {
    const broker = fleet.start('broker', env);
    const mqttUrl = `mqtt://127.0.0.1:${(await broker.waitForLog('mqtt broker listening'))['tcpPort']}`;
    const routerEnv = { ...env, MQTT_URL: mqttUrl, MQTT_USERNAME: 'router', MQTT_PASSWORD: KEYS.router };
    await Promise.all([
      fleet.start('notify-router', routerEnv).waitForLog('notify-router started'),
      fleet.start('push-worker', env).waitForLog('push-worker started'),
    ]);
    const first = await startApi();
    const deployment: Deployment = { httpBase: first.base, mqttUrl, serviceKey: KEYS.producer, pushService };
    const subscriber = await subscribeUser(deployment, 'crm');
    fleet.keep(subscriber.dashboard);

    const sendAt = new Date(Date.now() + 8_000).toISOString();
    const scheduled = { package: 'crm', target: { user: subscriber.user }, sendAt, delivery: 'always' };
    const cancelled = await postNotification(deployment, { ...scheduled, title: 'Cancelled reminder' });
    const kept = await postNotification(deployment, { ...scheduled, title: 'Kept reminder' });

    // A new API process: the delayed job and the event are in Redis and the database.
    expect(await first.process.stop()).to.equal(0);
    const second = await startApi();
    // A client retries a 503 (Retry-After): the new process may still be connecting to Redis.
    let cancel = await call(second.base, 'DELETE', `/v1/notifications/${cancelled}`);
    for (let i = 0; cancel.status === 503 && i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      cancel = await call(second.base, 'DELETE', `/v1/notifications/${cancelled}`);
    }
    expect(cancel.status, JSON.stringify(cancel.body)).to.equal(200);
    expect(cancel.body).to.include({ id: cancelled, cancelled: true });

    // The kept one fires at its time, to the dashboard and the browser; the cancelled one never.
    await waitForMessage(subscriber, kept, 15_000);
    const [push] = await pushService.waitFor(subscriber.ok.path, 1, 15_000);
    expect(openPush(push!.body, subscriber.ok.keys).id).to.equal(kept);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(subscriber.messages.map((m) => m.id)).to.not.include(cancelled);
    expect(pushService.requestsTo(subscriber.ok.path).map((p) => openPush(p.body, subscriber.ok.keys).id)).to.deep.equal([kept]);

    const status = await call(second.base, 'GET', `/v1/notifications/${cancelled}`);
    expect(status.body).to.include({ cancelled: true, realtime: 0, pushQueued: 0, sent: 0 });
    expect((await call(second.base, 'DELETE', `/v1/notifications/${kept}`)).status).to.equal(404);
    const repeat = await call(second.base, 'POST', '/v1/notifications', { id: cancelled, ...scheduled, title: 'Cancelled reminder' });
    expect(repeat.status).to.equal(409);
  });
});
