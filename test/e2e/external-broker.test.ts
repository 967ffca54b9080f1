import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { LocalPushService } from '../support/local-push-service.js';
import { ServiceProcess } from '../support/service-process.js';
import { TEST_JWT_SECRET } from '../support/tokens.js';
import { openPush, postNotification, subscribeUser, waitForMessage } from '../support/whole-path.js';

/** The machine's Mosquitto (anonymous on loopback here); MOSQUITTO_URL points elsewhere. */
const MOSQUITTO_URL = process.env['MOSQUITTO_URL'] ?? 'mqtt://127.0.0.1:1883';
const SERVICE_KEY = 'external-broker-key-0123456789';

describe('the whole path on an external broker (Mosquitto), the embedded one off', function () {
  this.timeout(60_000);
  let pushService: LocalPushService;
  let dataDir: string;
  let system: ServiceProcess;

  after(async function () {
    await system?.stop();
    await pushService?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('publishes realtime through Mosquitto and sends Web Push, warning that presence is off', async function () {
    pushService = await new LocalPushService().start();
    dataDir = mkdtempSync(join(tmpdir(), 'axion-mosquitto-'));
    // A topic root of its own: the shared Mosquitto may carry other traffic.
    const root = `ax${randomUUID().slice(0, 8)}`;
    system = new ServiceProcess(join(process.cwd(), 'dist', 'services', 'all-in-one', 'main.js'), {
      DATA_DIR: dataDir,
      MQTT_URL: MOSQUITTO_URL,
      MQTT_TOPIC_ROOT: root,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      API_KEYS: `producer:${SERVICE_KEY}:e2e`,
      PUSH_ALLOW_INSECURE_LOOPBACK: 'true',
    });
    const ready = await system.waitForLog('axion-push ready');
    expect(ready['mqttPort']).to.equal(undefined);
    expect(system.lines.some((l) => String(l.msg).includes('presence is not tracked'))).to.equal(true);

    const deployment = { httpBase: `http://127.0.0.1:${ready['httpPort']}`, mqttUrl: MOSQUITTO_URL, serviceKey: SERVICE_KEY, pushService };
    const subscriber = await subscribeUser(deployment, 'e2e', root);
    try {
      // Default delivery with no presence: the dashboard is connected, and Web Push goes out too.
      const id = await postNotification(deployment, { package: 'e2e', target: { user: subscriber.user }, title: 'Via Mosquitto' });
      expect((await waitForMessage(subscriber, id)).title).to.equal('Via Mosquitto');
      const [push] = await pushService.waitFor(subscriber.ok.path);
      expect(openPush(push!.body, subscriber.ok.keys).id).to.equal(id);
    } finally {
      await subscriber.dashboard.endAsync();
    }
  });
});
