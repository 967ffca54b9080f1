/**
 * `npm run bench:realtime`: events through intake → router → dashboards, beside the raw broker
 * paths (Mosquitto, bare aedes) measured in the same run, and a 100,000-member group send.
 * Prints a Markdown block and writes it into docs/performance.md (see `--no-write`).
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { Queue } from 'bullmq';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { createConnection } from 'mysql2/promise';
import { Fleet } from '../test/support/fleet.js';
import type { ServiceProcess } from '../test/support/service-process.js';
import { createTestDatabase } from '../test/support/test-databases.js';
import { userToken } from '../test/support/tokens.js';
import { QUEUE_NAMES } from '../shared/topics/index.js';
import { TEST_REDIS_URL } from '../test/support/test-databases.js';
import { formatCount as n, formatMs as ms, machineLine, writePerformanceBlock } from './support/performance-doc.js';
import { numberOption } from './support/options.js';
import { machineBusySeconds, pidsOf, processCpuSeconds, rssMiB } from './support/proc-stats.js';

const arg = (name: string, fallback: number, min: number, whole = true) => {
  const given = process.argv.find((a) => a.startsWith(`--${name}=`));
  return given ? numberOption('bench:realtime', name, given.slice(name.length + 3), { min, whole }) : fallback;
};
const USERS = arg('users', 1_000, 1);
const RATE = arg('rate', 2_000, 1);
const SECONDS = arg('seconds', 10, 1, false);
const WARMUP_SECONDS = arg('warmup', 10, 0, false);
const SATURATION_EVENTS = arg('events', 50_000, 1);
const WINDOW = arg('window', 5_000, 1);
const GROUP_MEMBERS = arg('members', 100_000, 1);
const WRITE = !process.argv.includes('--no-write');
const ONLY = process.argv.find((a) => a.startsWith('--only='))?.split('=')[1];
const MOSQUITTO_URL = process.env['BENCH_MOSQUITTO_URL'] ?? 'mqtt://127.0.0.1:1883';
const PRODUCER_KEY = 'bench-producer-key-0123456789abcdef';
const ROUTER_KEY = 'bench-router-key-0123456789abcdef';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One way from a producer to 1,000 dashboards. */
interface Path {
  name: string;
  url: string;
  /** Broker-side processes whose CPU is counted. */
  pids: () => number[];
  subscriber(i: number): Promise<{ options: IClientOptions; topic: string }>;
  producer: IClientOptions;
  publishTopic(i: number): string;
  payload(seq: number, sentAt: number): string;
  /** The `data` the producer put in, from what a dashboard received. */
  /** The event's sequence number and send time; undefined for what is not an event (the inbox's unseen counts). */
  read(payload: Buffer): { seq: number; t: number } | undefined;
}

interface Run {
  p50: number;
  p99: number;
  max: number;
  fixedCount: number;
  duplicates: number;
  /** Unseen-count messages the dashboards got besides the events (axion's inbox). */
  unseenCounts: number;
  saturationRate: number;
  saturationSeconds: number;
  cpu: Record<string, number>;
}

class Receipts {
  private latencies = new Float64Array(0);
  private seen = new Uint8Array(0);
  received = 0;
  duplicates = 0;
  /** Messages that were not events: the inbox's unseen counts. */
  others = 0;
  lastAt = 0;

  reset(size: number): void {
    this.latencies = new Float64Array(size).fill(Number.NaN);
    this.seen = new Uint8Array(size);
    this.received = 0;
    this.duplicates = 0;
    this.others = 0;
  }

  note(seq: number, sentAt: number): void {
    const now = performance.now();
    if (this.seen[seq]) {
      this.duplicates += 1;
      return;
    }
    this.seen[seq] = 1;
    this.latencies[seq] = now - sentAt;
    this.received += 1;
    this.lastAt = now;
  }

  latencySample(from: number, to: number): number[] {
    return Array.from(this.latencies.subarray(from, to)).filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  }

  async waitFor(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.received < count) {
      if (Date.now() > deadline) throw new Error(`received ${this.received} of ${count} within ${timeoutMs} ms`);
      await sleep(20);
    }
  }
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

async function connectAll(path: Path, receipts: Receipts): Promise<MqttClient[]> {
  const clients: MqttClient[] = [];
  for (let start = 0; start < USERS; start += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, USERS - start) }, async (_, k) => {
        const { options, topic } = await path.subscriber(start + k);
        const client = await connectAsync(path.url, { reconnectPeriod: 0, keepalive: 120, ...options });
        client.on('message', (_t, payload) => {
          const event = path.read(payload);
          if (event) receipts.note(event.seq, event.t);
          else receipts.others += 1;
        });
        await client.subscribeAsync(topic, { qos: 1 });
        return client;
      }),
    );
    clients.push(...batch);
  }
  return clients;
}

/** Publishes `count` events at `rate` per second, paced by the clock. */
async function publishAtRate(producer: MqttClient, path: Path, first: number, count: number, rate: number): Promise<void> {
  const start = performance.now();
  let sent = 0;
  while (sent < count) {
    const due = Math.min(count, Math.floor(((performance.now() - start) * rate) / 1000));
    for (; sent < due; sent++) {
      const seq = first + sent;
      producer.publish(path.publishTopic(seq % USERS), path.payload(seq, performance.now()), { qos: 1 });
    }
    await sleep(1);
  }
}

/** Publishes `count` events as fast as the broker acknowledges them, `WINDOW` in flight. */
function publishFlat(producer: MqttClient, path: Path, first: number, count: number): Promise<void> {
  return new Promise((resolve) => {
    let sent = 0;
    let inFlight = 0;
    const pump = () => {
      while (inFlight < WINDOW && sent < count) {
        const seq = first + sent++;
        inFlight += 1;
        producer.publish(path.publishTopic(seq % USERS), path.payload(seq, performance.now()), { qos: 1 }, () => {
          inFlight -= 1;
          if (sent < count) pump();
          else if (inFlight === 0) resolve();
        });
      }
    };
    pump();
  });
}

async function measure(path: Path, extraPids: () => Record<string, number[]>): Promise<Run> {
  const receipts = new Receipts();
  const warm = RATE * WARMUP_SECONDS;
  const fixed = RATE * SECONDS;
  const total = warm + fixed + SATURATION_EVENTS;
  receipts.reset(total);
  const clients = await connectAll(path, receipts);
  const producer = await connectAsync(path.url, { reconnectPeriod: 0, ...path.producer });
  for (const c of [producer, ...clients]) (c.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
  try {
    // Warm-up at the same rate, not measured: JIT, connection pools and buffers settle first.
    await publishAtRate(producer, path, 0, warm, RATE);
    await receipts.waitFor(warm, 60_000);
    await publishAtRate(producer, path, warm, fixed, RATE);
    await receipts.waitFor(warm + fixed, 60_000);
    const sample = receipts.latencySample(warm, warm + fixed);
    await sleep(500);
    const groups = { broker: path.pids(), ...extraPids(), bench: [process.pid] };
    const before = Object.fromEntries(Object.entries(groups).map(([k, pids]) => [k, pids.reduce((s, p) => s + processCpuSeconds(p), 0)]));
    const machineBefore = machineBusySeconds();
    const t0 = performance.now();
    await publishFlat(producer, path, warm + fixed, SATURATION_EVENTS);
    await receipts.waitFor(total, 120_000);
    const seconds = (receipts.lastAt - t0) / 1000;
    const cpu = Object.fromEntries(
      Object.entries(groups).map(([k, pids]) => [k, (pids.reduce((s, p) => s + processCpuSeconds(p), 0) - before[k]!) / seconds]),
    );
    const machine = (machineBusySeconds() - machineBefore) / seconds;
    cpu['other load'] = Math.max(0, machine - Object.values(cpu).reduce((a, b) => a + b, 0));
    return {
      p50: quantile(sample, 0.5),
      p99: quantile(sample, 0.99),
      max: sample[sample.length - 1] ?? Number.NaN,
      fixedCount: sample.length,
      duplicates: receipts.duplicates,
      unseenCounts: receipts.others,
      saturationRate: SATURATION_EVENTS / seconds,
      saturationSeconds: seconds,
      cpu,
    };
  } finally {
    await Promise.all([producer, ...clients].map((c) => c.endAsync(true)));
  }
}

const rawEvent = (seq: number, t: number) => JSON.stringify({ id: `evt-${seq}`, package: 'crm', title: 'Invoice paid', body: 'INV-1 was paid', data: { seq, t } });
const readRaw = (payload: Buffer) => (JSON.parse(payload.toString()) as { data?: { seq: number; t: number } }).data;

function rawPath(name: string, url: string, pids: () => number[], root: string): Path {
  return {
    name,
    url,
    pids,
    subscriber: async (i) => ({ options: { clientId: `${root}-sub-${i}` }, topic: `${root}/u${i}` }),
    producer: { clientId: `${root}-producer` },
    publishTopic: (i) => `${root}/u${i}`,
    payload: rawEvent,
    read: readRaw,
  };
}

function startRawAedes(): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(new URL('./support/raw-aedes.ts', import.meta.url).pathname, [], { execArgv: ['--import', 'tsx'], stdio: 'ignore' });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve({ child, port: m.port }));
    child.once('exit', (code) => reject(new Error(`raw aedes exited with ${code}`)));
  });
}

async function fillGroup(dbUrl: string, group: string, members: number): Promise<void> {
  const conn = await createConnection(dbUrl);
  try {
    for (let start = 0; start < members; start += 5_000) {
      const rows = Array.from({ length: Math.min(5_000, members - start) }, (_, k) => ['crm', group, `m${start + k}`, new Date()]);
      await conn.query('INSERT INTO group_member (package, group_name, `user`, created_at) VALUES ?', [rows]);
    }
  } finally {
    await conn.end();
  }
}

interface GroupRun {
  router: string;
  members: number;
  routedSeconds: number;
  jobs: number;
  usersQueued: number;
  rssBefore: number;
  rssPeak: number;
}

/** One event to a group of `members`: time until routed (all push jobs added) and router RSS. */
async function groupSend(fleet: Fleet, router: ServiceProcess, mqttUrl: string, members: number, label: string): Promise<GroupRun> {
  const group = `g${members}-${label.replace(/[^A-Za-z0-9]+/g, '-')}`;
  await fillGroup(fleet.database!.config.url, group, members);
  const producer = await connectAsync(mqttUrl, { username: 'producer', password: PRODUCER_KEY, reconnectPeriod: 0 });
  const queue = new Queue(QUEUE_NAMES.push, { connection: { url: TEST_REDIS_URL }, prefix: fleet.prefix });
  const pid = router.pid!;
  const jobsBefore = await queue.count();
  const rssBefore = rssMiB(pid);
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMiB(pid))), 10);
  try {
    const t0 = performance.now();
    const id = `all-hands-${group}`;
    await producer.publishAsync(`axion/crm/notify/group/${group}`, JSON.stringify({ id, title: 'All hands at 3', delivery: 'always' }), { qos: 1 });
    const routed = await router.waitForLog('event routed', 300_000, (l) => l['eventId'] === id);
    const routedSeconds = (performance.now() - t0) / 1000;
    return { router: label, members, routedSeconds, jobs: (await queue.count()) - jobsBefore, usersQueued: Number(routed['pushQueued']), rssBefore, rssPeak };
  } finally {
    clearInterval(sampler);
    await queue.close();
    await producer.endAsync(true);
  }
}

function machine(): string {
  const mosquitto = spawnSync('mosquitto', ['-h'], { encoding: 'utf8' }).stdout.split('\n')[0]?.trim();
  return [
    machineLine(mosquitto),
    `- ${USERS.toLocaleString('en')} dashboards (one MQTT connection each, QoS 1) and one producer in the benchmark's process; brokers, router, Redis and MariaDB in their own processes on the same cores.`,
  ].join('\n');
}


function render(runs: [Path, Run][], groups: GroupRun[], started: Date, seconds: number): string {
  const [mosq, aedes, axion] = runs.map(([, r]) => r) as [Run, Run, Run];
  const rawP99 = Math.max(mosq.p99, aedes.p99);
  const rows = runs.map(([p, r]) => {
    const cpu = Object.entries(r.cpu).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
    return `| ${p.name} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.max)} | ${n(r.fixedCount)} | ${r.duplicates} | **${n(r.saturationRate)}** | ${cpu} |`;
  });
  return [
    `Run ${started.toISOString()} — \`npm run bench:realtime\` (${Math.round(seconds)} s)`,
    '',
    machine(),
    `- Latency: ${n(RATE)} events/s for ${SECONDS} s, spread over the ${n(USERS)} users, after ${WARMUP_SECONDS} s at that rate that are not measured; publish → a dashboard's \`message\`, one clock (the benchmark's process). Throughput: ${n(SATURATION_EVENTS)} events with ${n(WINDOW)} unacknowledged at most, ÷ time to the last one received.`,
    '',
    '| path | p50 ms | p99 ms | max ms | events measured | repeats | events/s | CPU cores busy during the throughput run |',
    '|---|---:|---:|---:|---:|---:|---:|---|',
    ...rows,
    '',
    `- axion p99 vs the slower raw path's p99: ${ms(axion.p99)} / ${ms(rawP99)} = **${(axion.p99 / rawP99).toFixed(2)}×** (target ≤ 3×; an event crosses the broker twice, so 2× is the floor)`,
    `- axion throughput: **${n(axion.saturationRate)} events/s** (target ≥ 10,000)`,
    `- axion's dashboards also got ${n(axion.unseenCounts)} inbox unseen-count messages (at most one per user per coalescing window, \`INBOX_UNSEEN_WINDOW_MS\`, after the events)`,
    '',
    'Group send: one event to a group (delivery `always`; no push-worker runs, so the jobs stay queued). Routed = from the producer\'s publish to the router\'s "event routed" (every push job added). RSS of the router process, sampled every 10 ms; the smaller group goes first, so the larger one starts from a warm process.',
    '',
    '| router | members | routed in | users queued | push jobs | router RSS before | router RSS peak |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...groups.map((g) => `| ${g.router} | ${n(g.members)} | **${g.routedSeconds.toFixed(2)} s** | ${n(g.usersQueued)} | ${n(g.jobs)} | ${g.rssBefore.toFixed(0)} MiB | **${g.rssPeak.toFixed(0)} MiB** (+${(g.rssPeak - g.rssBefore).toFixed(0)}) |`),
  ].join('\n');
}

async function main(): Promise<void> {
  const started = new Date();
  const fleet = new Fleet();
  let aedesChild: ChildProcess | undefined;
  try {
    const mosquittoPids = pidsOf('mosquitto');
    if (mosquittoPids.length === 0) throw new Error(`no mosquitto process (needed at ${MOSQUITTO_URL} as the raw baseline)`);
    const raw = await startRawAedes();
    aedesChild = raw.child;

    fleet.database = await createTestDatabase('mysql');
    const env = fleet.env(
      { producer: PRODUCER_KEY, router: ROUTER_KEY },
      { MQTT_MAX_CONNECTIONS_PER_ADDRESS: '100000', MQTT_CONNECTS_PER_ADDRESS_PER_MINUTE: '100000', LOG_LEVEL: 'info' },
    );
    const broker = fleet.start('broker', { ...env, NODE_OPTIONS: process.env['BENCH_ROUTER_NODE_OPTIONS'] });
    const { tcpPort } = await broker.waitForLog('mqtt broker listening');
    const mqttUrl = `mqtt://127.0.0.1:${String(tcpPort)}`;
    // INBOX_UNSEEN_WINDOW_MS from the bench's environment reaches the router, to compare windows.
    const window = process.env['INBOX_UNSEEN_WINDOW_MS'];
    const routerEnv = { ...env, MQTT_URL: mqttUrl, MQTT_USERNAME: 'router', MQTT_PASSWORD: ROUTER_KEY, ...(window ? { INBOX_UNSEEN_WINDOW_MS: window } : {}) };
    const router = fleet.start('notify-router', { ...routerEnv, NODE_OPTIONS: process.env['BENCH_ROUTER_NODE_OPTIONS'] });
    await router.waitForLog('notify-router started');
    const sideCars = () => ({ router: [router.pid!], mariadb: pidsOf('mariadbd'), redis: pidsOf('redis-server') });

    const root = `bench-${process.pid}`;
    const paths: Path[] = [
      rawPath('raw Mosquitto (publish → broker → dashboard)', MOSQUITTO_URL, () => mosquittoPids, root),
      rawPath('raw aedes (publish → broker → dashboard)', `mqtt://127.0.0.1:${raw.port}`, () => [raw.child.pid!], root),
      {
        name: 'axion (notify → broker → router → broker → dashboard)',
        url: mqttUrl,
        pids: () => [broker.pid!],
        subscriber: async (i) => ({
          options: { clientId: `u${i}-dash`, username: `u${i}`, password: await userToken(`u${i}`, ['crm'], { expiresIn: '1h' }) },
          topic: `axion/crm/push/u${i}`,
        }),
        producer: { clientId: 'bench-producer', username: 'producer', password: PRODUCER_KEY },
        publishTopic: (i) => `axion/crm/notify/user/u${i}`,
        payload: (seq, t) => JSON.stringify({ title: 'Invoice paid', body: 'INV-1 was paid', delivery: 'realtime', data: { seq, t } }),
        read: readRaw,
      },
    ];
    const runs: [Path, Run][] = [];
    for (const path of paths.filter((p) => !ONLY || p.name.toLowerCase().includes(ONLY))) {
      console.error(`measuring ${path.name} …`);
      runs.push([path, await measure(path, path.name.startsWith('axion') ? sideCars : () => ({}))]);
    }
    const groups: GroupRun[] = [];
    if (GROUP_MEMBERS > 0) {
      for (const members of [GROUP_MEMBERS / 10, GROUP_MEMBERS]) {
        console.error(`group send to ${members} members …`);
        groups.push(await groupSend(fleet, router, mqttUrl, members, 'default heap'));
      }
      // The same send from a router whose V8 old space may not pass 40 MiB: it completes only
      // if the group is streamed, never held whole.
      await router.stop();
      const small = fleet.start('notify-router', { ...routerEnv, NODE_OPTIONS: '--max-old-space-size=40' });
      await small.waitForLog('notify-router started');
      console.error(`group send to ${GROUP_MEMBERS} members, router heap capped …`);
      groups.push(await groupSend(fleet, small, mqttUrl, GROUP_MEMBERS, 'old space ≤ 40 MiB'));
    }
    if (runs.length < paths.length) {
      console.log(JSON.stringify({ runs: runs.map(([p, r]) => ({ path: p.name, ...r })), groups }, null, 2));
      return;
    }
    const block = render(runs, groups, started, (Date.now() - started.getTime()) / 1000);
    console.log(block);
    if (WRITE) writePerformanceBlock('realtime', block);
  } finally {
    aedesChild?.disconnect();
    await fleet.close();
  }
}

await main();
