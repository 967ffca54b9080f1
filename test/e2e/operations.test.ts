import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { connectAsync } from 'mqtt';
import { generateVapidKeyPair } from '../../shared/vapid/index.js';
import { Fleet } from '../support/fleet.js';
import { LocalPushService } from '../support/local-push-service.js';
import type { ServiceProcess } from '../support/service-process.js';
import { createTestDatabase } from '../support/test-databases.js';
import { TEST_JWT_SECRET, userToken } from '../support/tokens.js';
import { openPush, postNotification, subscribeUser, type Deployment, type Subscriber } from '../support/whole-path.js';

const PRODUCER_KEY = `ops-producer-${randomUUID()}`;
const ROUTER_KEY = `ops-router-${randomUUID()}`;
const ADMIN_KEY = `ops-admin-${randomUUID()}`;
const WRONG_KEY = `ops-wrong-${randomUUID()}`;
const VAPID = generateVapidKeyPair();

/** `/healthz`, `/readyz` and `/metrics` of one service. */
async function ops(base: string) {
  const [healthz, readyz, metrics] = await Promise.all(
    ['/healthz', '/readyz', '/metrics'].map((path) => fetch(`${base}${path}`)),
  );
  return {
    healthz: healthz!.status,
    readyz: { status: readyz!.status, body: (await readyz!.json()) as { checks: Record<string, { ok: boolean }> } },
    metrics: await metrics!.text(),
  };
}

describe('operations: four services apart, with their logs, probes and metrics', function () {
  this.timeout(90_000);
  const fleet = new Fleet();
  let pushService: LocalPushService;
  let deployment: Deployment;
  let subscriber: Subscriber;
  let services: { api: ServiceProcess; broker: ServiceProcess; router: ServiceProcess; worker: ServiceProcess };
  const bases: Record<string, string> = {};

  before(async function () {
    pushService = await new LocalPushService().start();
    fleet.database = await createTestDatabase('mysql');
    const env = {
      ...fleet.env({ producer: PRODUCER_KEY, router: ROUTER_KEY }),
      API_KEYS: `producer:${PRODUCER_KEY}:e2e,router:${ROUTER_KEY}:*:router,ops:${ADMIN_KEY}:*:admin`,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      METRICS_PORT: '0',
      PUSH_ALLOW_INSECURE_LOOPBACK: 'true',
      VAPID_PUBLIC_KEY: VAPID.publicKey,
      VAPID_PRIVATE_KEY: VAPID.privateKey,
      // Every line a service can write at debug, to look for secrets in.
      LOG_LEVEL: 'debug',
    };
    const broker = fleet.start('broker', env);
    const { tcpPort } = await broker.waitForLog('mqtt broker listening');
    const mqttUrl = `mqtt://127.0.0.1:${tcpPort}`;
    const api = fleet.start('subscription-api', env);
    const router = fleet.start('notify-router', { ...env, MQTT_URL: mqttUrl, MQTT_USERNAME: 'router', MQTT_PASSWORD: ROUTER_KEY });
    const worker = fleet.start('push-worker', env);
    services = { api, broker, router, worker };
    const [listening] = await Promise.all([
      api.waitForLog('http api listening'),
      router.waitForLog('notify-router started'),
      worker.waitForLog('push-worker started'),
    ]);
    bases['subscription-api'] = `http://127.0.0.1:${listening['port']}`;
    for (const name of ['broker', 'router', 'worker'] as const) {
      const { port } = await services[name].waitForLog('metrics listening');
      bases[name] = `http://127.0.0.1:${port}`;
    }
    deployment = { httpBase: bases['subscription-api']!, mqttUrl, serviceKey: PRODUCER_KEY, pushService };
    subscriber = await subscribeUser(deployment);
  });

  after(async function () {
    await subscriber?.dashboard.endAsync();
    await fleet.close();
    await pushService?.close();
  });

  it('carries the request id given to POST /v1/notifications into the router\'s and the worker\'s log lines', async function () {
    const requestId = `ops-${randomUUID()}`;
    const res = await fetch(`${deployment.httpBase}/v1/notifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': PRODUCER_KEY, 'x-request-id': requestId },
      body: JSON.stringify({ package: 'e2e', target: { user: subscriber.user }, title: 'Traced', delivery: 'always' }),
    });
    expect(res.status).to.equal(202);
    expect(res.headers.get('x-request-id')).to.equal(requestId);
    const { id } = (await res.json()) as { id: string };

    const withId = (line: Record<string, unknown>) => line['requestId'] === requestId;
    const accepted = await services.api.waitForLog('event accepted', 10_000, withId);
    const routed = await services.router.waitForLog('event routed', 10_000, withId);
    const sent = await services.worker.waitForLog('push job attempt done', 10_000, withId);
    const gone = await services.worker.waitForLog('subscription gone; deactivated', 10_000, withId);

    for (const line of [accepted, routed, sent, gone]) expect(line['eventId']).to.equal(id);
    expect(sent).to.include({ sent: 1, gone: 1 });
    expect(gone).to.include({ user: subscriber.user, status: 410 });
  });

  it('answers /healthz, /readyz and /metrics on every service', async function () {
    const [push] = await pushService.waitFor(subscriber.ok.path);
    expect(openPush(push!.body, subscriber.ok.keys).title).to.be.a('string');

    const api = await ops(bases['subscription-api']!);
    const broker = await ops(bases['broker']!);
    const router = await ops(bases['router']!);
    const worker = await ops(bases['worker']!);

    for (const service of [api, broker, router, worker]) {
      expect(service.healthz).to.equal(200);
      expect(service.readyz.status, JSON.stringify(service.readyz.body)).to.equal(200);
      expect(service.metrics).to.match(/^process_resident_memory_bytes \d+/m);
      expect(service.metrics).to.match(/^nodejs_eventloop_lag_seconds [\d.e-]+/m);
      expect(service.metrics).to.match(/^nodejs_heap_size_used_bytes \d+/m);
    }
    expect(api.readyz.body.checks).to.have.keys('database', 'redis');
    expect(broker.readyz.body.checks).to.have.keys('broker', 'redis');
    expect(router.readyz.body.checks).to.have.keys('database', 'redis', 'broker');
    expect(worker.readyz.body.checks).to.have.keys('database', 'redis');

    expect(api.metrics).to.match(/axion_push_http_requests_total\{method="POST",route="\/v1\/notifications",status="202"\} [1-9]/);
    expect(api.metrics).to.match(/axion_push_queue_jobs\{queue="push",state="waiting"\} \d+/);
    // The dashboard and the router's two connections (intake and publisher).
    expect(broker.metrics).to.match(/axion_push_mqtt_clients_connected [3-9]/);
    expect(router.metrics).to.match(/axion_push_jobs_total\{queue="route",outcome="completed"\} [1-9]/);
    expect(router.metrics).to.match(/axion_push_queue_jobs\{queue="route",state="waiting"\} \d+/);
    expect(worker.metrics).to.match(/axion_push_queue_jobs\{queue="push",state="active"\} \d+/);
    expect(worker.metrics).to.match(/axion_push_jobs_total\{queue="push",outcome="completed"\} [1-9]/);
    expect(worker.metrics).to.match(/axion_push_sends_total\{origin="[^"]+",outcome="sent"\} [1-9]/);
    expect(worker.metrics).to.match(/axion_push_sends_total\{origin="[^"]+",outcome="gone"\} [1-9]/);
  });

  it('writes no secret, key or token into any log line, whatever the traffic', async function () {
    const api = (path: string, init: RequestInit = {}) => fetch(`${deployment.httpBase}${path}`, init).then((r) => r.status);
    const json = { 'content-type': 'application/json' };
    const forged = await userToken(subscriber.user, ['e2e'], { secret: `forged-${randomUUID()}-0123456789abcdef` });
    const expired = await userToken(subscriber.user, ['e2e'], { expiresIn: Math.floor(Date.now() / 1000) - 60 });
    // Signed in, by header and by cookie; refused credentials of every kind.
    expect(await api('/v1/subscriptions?package=e2e', { headers: { authorization: `Bearer ${subscriber.token}` } })).to.equal(200);
    expect(await api('/v1/subscriptions?package=e2e', { headers: { cookie: `access_token=${subscriber.token}` } })).to.equal(200);
    expect(await api('/v1/subscriptions?package=e2e', { headers: { authorization: `Bearer ${forged}` } })).to.equal(401);
    expect(await api('/v1/subscriptions?package=e2e', { headers: { cookie: `access_token=${expired}` } })).to.equal(401);
    expect(await api('/v1/notifications', { method: 'POST', headers: { ...json, 'x-api-key': WRONG_KEY }, body: '{}' })).to.equal(401);
    // Key material in a body the API refuses.
    expect(await api('/v1/subscriptions', {
      method: 'POST',
      headers: { ...json, authorization: `Bearer ${subscriber.token}` },
      body: JSON.stringify({ package: 'e2e', endpoint: 'ftp://nowhere', keys: { p256dh: subscriber.ok.keys.p256dh, auth: subscriber.ok.keys.auth } }),
    })).to.equal(400);
    // The admin board, with the key as a browser sends it and as a tool does.
    const basic = `Basic ${Buffer.from(`ops:${ADMIN_KEY}`).toString('base64')}`;
    expect(await api('/admin/queues', { headers: { authorization: basic } })).to.equal(200);
    expect(await api('/admin/queues/api/queues', { headers: { 'x-api-key': ADMIN_KEY } })).to.equal(200);
    // MQTT logins: refused passwords, a producer's key, a publish over MQTT.
    for (const [username, password] of [[subscriber.user, forged], ['producer', WRONG_KEY]]) {
      const refused = await connectAsync(deployment.mqttUrl, { username, password, reconnectPeriod: 0 }).then(
        (c) => c.endAsync().then(() => 'connected'),
        () => 'refused',
      );
      expect(refused).to.equal('refused');
    }
    const pushedBefore = pushService.requestsTo(subscriber.ok.path).length;
    const producer = fleet.keep(await connectAsync(deployment.mqttUrl, { username: 'producer', password: PRODUCER_KEY, reconnectPeriod: 0 }));
    await producer.publishAsync(`axion/e2e/notify/user/${subscriber.user}`, JSON.stringify({ title: 'Over MQTT', delivery: 'always' }), { qos: 1 });
    await postNotification(deployment, { package: 'e2e', target: { user: subscriber.user }, title: 'Again', delivery: 'always' });
    await pushService.waitFor(subscriber.ok.path, pushedBefore + 2, 20_000);
    await producer.endAsync();
    // Shutdown lines too.
    for (const name of ['api', 'router', 'worker', 'broker'] as const) expect(await services[name].stop()).to.equal(0);

    const secrets: Record<string, string> = {
      'AUTH_JWT_SECRET': TEST_JWT_SECRET,
      'producer key': PRODUCER_KEY,
      'router key': ROUTER_KEY,
      'admin key': ADMIN_KEY,
      'admin key as Basic': basic.slice('Basic '.length),
      'refused key': WRONG_KEY,
      'VAPID private key': VAPID.privateKey,
      'user token': subscriber.token,
      'forged token': forged,
      'expired token': expired,
      'token signature': subscriber.token.split('.')[2]!,
      'p256dh (live)': subscriber.ok.keys.p256dh,
      'auth (live)': subscriber.ok.keys.auth,
      'p256dh (gone)': subscriber.gone.keys.p256dh,
      'auth (gone)': subscriber.gone.keys.auth,
    };
    let lines = 0;
    for (const [name, service] of Object.entries(services)) {
      lines += service.output.length;
      for (const line of service.output) {
        for (const [what, secret] of Object.entries(secrets)) {
          expect(line.includes(secret), `${name} logged the ${what}: ${line}`).to.equal(false);
        }
      }
    }
    // The search had something to search: every service logged, at debug, the traffic above.
    expect(lines).to.be.above(30);
    expect(services.api.lines.some((l) => l.msg === 'event accepted')).to.equal(true);
  });
});
