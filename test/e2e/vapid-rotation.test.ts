import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { generateVapidKeyPair } from '../../shared/vapid/index.js';
import { LocalPushService } from '../support/local-push-service.js';
import { ServiceProcess } from '../support/service-process.js';
import { TEST_JWT_SECRET, userToken } from '../support/tokens.js';
import { createBrowserKeys, verifyVapidAuthorization } from '../support/web-push-receiver.js';

const ADMIN_KEY = 'rotation-admin-key-0123456789abcdef';
const PRODUCER_KEY = 'rotation-producer-key-0123456789ab';

describe('VAPID keys: configured default and rotation', function () {
  this.timeout(60_000);
  const defaultKey = generateVapidKeyPair();
  let pushService: LocalPushService;
  let dataDir: string;
  let system: ServiceProcess;
  let base: string;

  before(async function () {
    pushService = await new LocalPushService().start();
    dataDir = mkdtempSync(join(tmpdir(), 'axion-vapid-'));
    system = new ServiceProcess(join(process.cwd(), 'dist', 'services', 'all-in-one', 'main.js'), {
      DATA_DIR: dataDir,
      HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', MQTT_PORT: '0', MQTT_WS_PORT: '0',
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      API_KEYS: `ops:${ADMIN_KEY}:rot:admin,app:${PRODUCER_KEY}:rot`,
      VAPID_PUBLIC_KEY: defaultKey.publicKey,
      VAPID_PRIVATE_KEY: defaultKey.privateKey,
      PUSH_ALLOW_INSECURE_LOOPBACK: 'true',
    });
    const ready = await system.waitForLog('axion-push ready');
    base = `http://127.0.0.1:${ready['httpPort']}`;
  });

  after(async function () {
    await system?.stop();
    await pushService?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function call(method: string, path: string, headers: Record<string, string>, body?: unknown) {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }

  async function subscribe(user: string, path: string, applicationServerKey?: string) {
    const keys = createBrowserKeys();
    const res = await call('POST', '/v1/subscriptions', { authorization: `Bearer ${await userToken(user, ['rot'])}` }, {
      package: 'rot',
      endpoint: pushService.endpoint(path),
      keys: { p256dh: keys.p256dh, auth: keys.auth },
      ...(applicationServerKey ? { applicationServerKey } : {}),
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
  }

  it('serves the configured default key to a package that has none', async function () {
    const res = await call('GET', '/v1/vapid/rot', {});
    expect(res.body['publicKey']).to.equal(defaultKey.publicKey);
  });

  it('keeps signing old subscriptions with their key after a rotation, and new ones with the new key', async function () {
    const user = `u-${randomUUID().slice(0, 8)}`;
    await subscribe(user, `/rot/${user}/old`);

    const forbidden = await call('POST', '/v1/admin/vapid/rot/rotate', { 'x-api-key': PRODUCER_KEY });
    expect(forbidden.status).to.equal(403);
    const rotated = await call('POST', '/v1/admin/vapid/rot/rotate', { 'x-api-key': ADMIN_KEY });
    expect(rotated.status).to.equal(201);
    const newKey = rotated.body['publicKey'] as string;
    expect(newKey).to.not.equal(defaultKey.publicKey);
    expect((await call('GET', '/v1/vapid/rot', {})).body['publicKey']).to.equal(newKey);

    await subscribe(user, `/rot/${user}/new`, newKey);
    const sent = await call('POST', '/v1/notifications', { 'x-api-key': PRODUCER_KEY }, {
      package: 'rot', target: { user }, title: 'After rotation', delivery: 'always',
    });
    expect(sent.status).to.equal(202);

    const [old] = await pushService.waitFor(`/rot/${user}/old`);
    const [fresh] = await pushService.waitFor(`/rot/${user}/new`);
    expect(verifyVapidAuthorization(String(old!.headers.authorization)).publicKey).to.equal(defaultKey.publicKey);
    expect(verifyVapidAuthorization(String(fresh!.headers.authorization)).publicKey).to.equal(newKey);
  });

  it('refuses an applicationServerKey that is not a key of the package', async function () {
    const keys = createBrowserKeys();
    const res = await call('POST', '/v1/subscriptions', { authorization: `Bearer ${await userToken('someone', ['rot'])}` }, {
      package: 'rot',
      endpoint: pushService.endpoint('/rot/someone'),
      keys: { p256dh: keys.p256dh, auth: keys.auth },
      applicationServerKey: generateVapidKeyPair().publicKey,
    });
    expect(res.status).to.equal(400);
    expect(res.body['error']['message']).to.contain('applicationServerKey');
  });
});
