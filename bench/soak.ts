/**
 * `npm run bench:soak`: the whole system under a steady load for a bounded time, to see whether
 * any service's memory grows. Prints a Markdown block and writes it into docs/performance.md
 * (see `--no-write`).
 *
 * The four services run as separate processes, as docker-compose runs them, on a fresh MariaDB
 * database and the local Redis; a push service that accepts everything runs in a process of its
 * own. Users have one browser subscription each; some also have a dashboard connected. Events
 * (`delivery: always`) go half over HTTP, half over MQTT, to one user each, at a steady rate.
 * Every accepted event must reach its user's push endpoint, and its dashboard if there is one.
 *
 * Memory is each process's RSS from /proc, sampled every 5 s. "Start" is the mean over the first
 * minute after the warm-up, "end" the mean over the last minute: a mean over a minute smooths the
 * saw-tooth of garbage collection that single readings would turn into noise.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { connectAsync, type MqttClient } from 'mqtt';
import { Fleet } from '../test/support/fleet.js';
import { createTestDatabase } from '../test/support/test-databases.js';
import { userToken } from '../test/support/tokens.js';
import { createBrowserKeys } from '../test/support/web-push-receiver.js';
import { formatCount as n, machineLine, writePerformanceBlock } from './support/performance-doc.js';
import { numberOption } from './support/options.js';
import { rssMiB } from './support/proc-stats.js';

const { values: opts } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    'warmup-minutes': { type: 'string', default: '1' },
    rate: { type: 'string', default: '200' },
    users: { type: 'string', default: '1000' },
    dashboards: { type: 'string', default: '200' },
    'no-write': { type: 'boolean', default: false },
  },
});
const option = (name: 'minutes' | 'warmup-minutes' | 'rate' | 'users' | 'dashboards', min: number, whole = true) =>
  numberOption('bench:soak', name, opts[name], { min, whole });
const MINUTES = option('minutes', 0.1, false);
const WARMUP_MINUTES = option('warmup-minutes', 0, false);
const RATE = option('rate', 1);
const USERS = option('users', 1);
const DASHBOARDS = Math.min(USERS, option('dashboards', 0));
const PACKAGE = 'crm';
const PRODUCER_KEY = 'soak-producer-key-0123456789abcdef';
const ROUTER_KEY = 'soak-router-key-0123456789abcdef';
const SAMPLE_MS = 5_000;
/** Growth of the end window over the start window that the target allows. */
const TARGET_GROWTH = 0.1;

interface PushService {
  child: ChildProcess;
  origin: string;
  received(): Promise<number>;
}

function startPushService(): Promise<PushService> {
  const child = fork(new URL('./support/push-service-process.ts', import.meta.url).pathname, [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const received = () =>
    new Promise<number>((resolve) => {
      const onStats = (msg: { type: string; received?: number }) => {
        if (msg.type !== 'stats') return;
        child.off('message', onStats);
        resolve(msg.received ?? 0);
      };
      child.on('message', onStats);
      child.send({ type: 'stats' });
    });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`push service exited with ${String(code)}`)));
    child.once('message', (msg: { type: string; origin: string }) => resolve({ child, origin: msg.origin, received }));
  });
}

async function post(url: string, headers: Record<string, string>, body: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, text: await res.text() };
}

const mean = (values: number[]) => values.reduce((s, v) => s + v, 0) / Math.max(1, values.length);
const mib = (v: number) => `${v.toFixed(0)} MiB`;

async function main(): Promise<void> {
  const started = new Date();
  const fleet = new Fleet();
  let pushService: PushService | undefined;
  const dashboards: MqttClient[] = [];
  let producer: MqttClient | undefined;
  try {
    pushService = await startPushService();
    fleet.database = await createTestDatabase('mysql');
    const env = fleet.env({ producer: PRODUCER_KEY, router: ROUTER_KEY }, {
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      PUSH_ALLOW_INSECURE_LOOPBACK: 'true',
      VAPID_SUBJECT: 'mailto:ops@axion-push.example',
      MQTT_MAX_CONNECTIONS_PER_ADDRESS: '100000',
      MQTT_CONNECTS_PER_ADDRESS_PER_MINUTE: '100000',
      LOG_LEVEL: 'info',
    });
    const broker = fleet.start('broker', env);
    const { tcpPort } = await broker.waitForLog('mqtt broker listening');
    const mqttUrl = `mqtt://127.0.0.1:${String(tcpPort)}`;
    const mqttEnv = { ...env, MQTT_URL: mqttUrl };
    const router = fleet.start('notify-router', { ...mqttEnv, MQTT_USERNAME: 'router', MQTT_PASSWORD: ROUTER_KEY });
    const worker = fleet.start('push-worker', mqttEnv);
    const api = fleet.start('subscription-api', mqttEnv);
    const [, , { port }] = await Promise.all([
      router.waitForLog('notify-router started'),
      worker.waitForLog('push-worker started'),
      api.waitForLog('http api listening'),
    ]);
    const http = `http://127.0.0.1:${String(port)}`;
    const services = { broker, router, 'push-worker': worker, 'subscription-api': api };

    console.error(`subscribing ${USERS} users, connecting ${DASHBOARDS} dashboards …`);
    const { publicKey } = (await (await fetch(`${http}/v1/vapid/${PACKAGE}`)).json()) as { publicKey: string };
    const keys = createBrowserKeys();
    const received = new Map<string, Set<string>>();
    let repeats = 0;
    for (let i = 0; i < USERS; i++) {
      const user = `u${i}`;
      const token = await userToken(user, [PACKAGE], { expiresIn: '2h' });
      const answer = await post(`${http}/v1/subscriptions`, { authorization: `Bearer ${token}` }, {
        package: PACKAGE,
        endpoint: `${pushService.origin}/push/${user}`,
        expirationTime: null,
        keys: { p256dh: keys.p256dh, auth: keys.auth },
        applicationServerKey: publicKey,
      });
      if (answer.status !== 201) throw new Error(`subscribing ${user}: ${answer.status} ${answer.text}`);
      if (i < DASHBOARDS) {
        const seen = new Set<string>();
        received.set(user, seen);
        const dashboard = await connectAsync(mqttUrl, { clientId: `soak-${user}`, username: user, password: token, reconnectPeriod: 1_000 });
        dashboard.on('message', (_topic, payload) => {
          const message = JSON.parse(payload.toString()) as { id?: string };
          if (!message.id) return;
          if (seen.has(message.id)) repeats++;
          seen.add(message.id);
        });
        await dashboard.subscribeAsync(`axion/${PACKAGE}/push/${user}`, { qos: 1 });
        dashboards.push(dashboard);
      }
    }
    producer = await connectAsync(mqttUrl, { clientId: 'soak-producer', username: 'producer', password: PRODUCER_KEY, reconnectPeriod: 1_000 });

    // The load: every 100 ms a tenth of a second's events, alternating HTTP and MQTT.
    const accepted: { id: string; user: string }[] = [];
    let refused = 0;
    let sequence = 0;
    const sendOne = async () => {
      const seq = sequence++;
      const user = `u${seq % USERS}`;
      const id = `soak-${randomUUID()}`;
      const event = { id, title: 'Invoice paid', body: `INV-${seq} was paid`, delivery: 'always', data: { seq } };
      try {
        if (seq % 2 === 0) {
          const answer = await post(`${http}/v1/notifications`, { 'x-api-key': PRODUCER_KEY }, { package: PACKAGE, target: { user }, ...event });
          if (answer.status !== 202) throw new Error(`${answer.status} ${answer.text}`);
        } else {
          await producer!.publishAsync(`axion/${PACKAGE}/notify/user/${user}`, JSON.stringify(event), { qos: 1 });
        }
        accepted.push({ id, user });
      } catch (err) {
        refused++;
        if (refused <= 5) console.error(`event ${seq} not accepted: ${String(err)}`);
      }
    };
    const pending = new Set<Promise<void>>();
    const ticker = setInterval(() => {
      for (let i = 0; i < RATE / 10; i++) {
        const sent = sendOne().finally(() => pending.delete(sent));
        pending.add(sent);
      }
    }, 100);

    const samples: { at: number; rss: Record<string, number> }[] = [];
    const t0 = Date.now();
    const sample = () => samples.push({ at: Date.now() - t0, rss: Object.fromEntries(Object.entries(services).map(([k, p]) => [k, rssMiB(p.pid!)])) });
    sample();
    const sampler = setInterval(sample, SAMPLE_MS);
    const totalMs = (WARMUP_MINUTES + MINUTES) * 60_000;
    console.error(`load: ${RATE} events/s for ${WARMUP_MINUTES + MINUTES} min (${WARMUP_MINUTES} of warm-up) …`);
    while (Date.now() - t0 < totalMs) {
      await new Promise((resolve) => setTimeout(resolve, 30_000));
      console.error(`  ${Math.round((Date.now() - t0) / 1000)} s: ${n(accepted.length)} accepted, RSS ${JSON.stringify(samples.at(-1)!.rss, (_k, v: unknown) => (typeof v === 'number' ? Math.round(v) : v))}`);
    }
    clearInterval(ticker);
    clearInterval(sampler);
    await Promise.all(pending);

    // Drain: every accepted event reaches its push endpoint, and its dashboard if it has one.
    const expectedMqtt = accepted.filter((a) => received.has(a.user));
    const drainDeadline = Date.now() + 120_000;
    let pushed = 0;
    let missingMqtt = expectedMqtt.length;
    while (Date.now() < drainDeadline) {
      pushed = await pushService.received();
      missingMqtt = expectedMqtt.filter((a) => !received.get(a.user)!.has(a.id)).length;
      if (pushed >= accepted.length && missingMqtt === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    const lost = { push: Math.max(0, accepted.length - pushed), mqtt: missingMqtt };

    const warmupMs = WARMUP_MINUTES * 60_000;
    const startWindow = samples.filter((s) => s.at >= warmupMs && s.at < warmupMs + 60_000);
    const endWindow = samples.filter((s) => s.at >= totalMs - 60_000);
    const rows = Object.keys(services).map((name) => {
      const start = mean(startWindow.map((s) => s.rss[name]!));
      const end = mean(endWindow.map((s) => s.rss[name]!));
      const peak = Math.max(...samples.map((s) => s.rss[name]!));
      const growth = end / start - 1;
      return { name, start, end, peak, growth, first: samples[0]!.rss[name]! };
    });
    const seconds = (Date.now() - started.getTime()) / 1000;
    const block = [
      `Run ${started.toISOString()} — \`npm run bench:soak\` (${Math.round(seconds)} s)`,
      '',
      machineLine(),
      `- Load: ${n(RATE)} events/s (\`delivery: always\`, one user each, half over HTTP, half over MQTT) for ${WARMUP_MINUTES} min of warm-up and ${MINUTES} min measured; ${n(USERS)} users with one subscription each on a local push service, ${n(DASHBOARDS)} of them with a dashboard connected.`,
      `- Events: ${n(accepted.length)} accepted, ${n(refused)} refused; Web Push requests received ${n(pushed)} (lost ${n(lost.push)}); dashboard messages missing ${n(lost.mqtt)}, repeated ${n(repeats)}.`,
      '',
      '| service | RSS at start-up | RSS start (first minute after warm-up) | RSS end (last minute) | growth | peak | ≤ 10% |',
      '|---|---:|---:|---:|---:|---:|---|',
      ...rows.map((r) => `| ${r.name} | ${mib(r.first)} | ${mib(r.start)} | ${mib(r.end)} | **${(r.growth * 100).toFixed(1)}%** | ${mib(r.peak)} | ${r.growth <= TARGET_GROWTH ? 'yes' : '**no**'} |`),
    ].join('\n');
    console.log(block);
    if (lost.push > 0 || lost.mqtt > 0) throw new Error(`accepted events were lost: ${JSON.stringify(lost)}`);
    if (!opts['no-write']) writePerformanceBlock('soak', block);
  } finally {
    await Promise.all(dashboards.map((d) => d.endAsync(true)));
    await producer?.endAsync(true);
    pushService?.child.disconnect();
    await fleet.close();
  }
}

await main();
