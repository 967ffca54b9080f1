/**
 * `npm run bench:api`: how many browser subscriptions per second `POST /v1/subscriptions`
 * stores on MariaDB, and its latency, against a hand-wired baseline measured in the same run.
 * Prints a Markdown block and writes it into docs/performance.md (see `--no-write`).
 *
 * Both servers run in processes of their own on a fresh database; autocannon drives them from
 * this process. Each request upserts one of `--rows` (user, endpoint) pairs in turn, so the
 * first pass inserts and later passes update, as browsers re-subscribing do.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import autocannon, { type Result } from 'autocannon';
import { createConnection } from 'mysql2/promise';
import { Fleet } from '../test/support/fleet.js';
import { createTestDatabase } from '../test/support/test-databases.js';
import { userToken } from '../test/support/tokens.js';
import { createBrowserKeys } from '../test/support/web-push-receiver.js';
import { formatCount as n, formatMs as ms, machineLine, writePerformanceBlock } from './support/performance-doc.js';
import { numberOption } from './support/options.js';
import { machineBusySeconds, pidsOf, processCpuSeconds } from './support/proc-stats.js';

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    rate: { type: 'string', default: '3000' },
    users: { type: 'string', default: '10000' },
    rows: { type: 'string', default: '20000' },
    'no-write': { type: 'boolean', default: false },
  },
});
const option = (name: 'seconds' | 'warmup' | 'connections' | 'rate' | 'users' | 'rows', min: number, whole = true) =>
  numberOption('bench:api', name, opts[name], { min, whole });
const SECONDS = option('seconds', 1, false);
const WARMUP = option('warmup', 0, false);
const CONNECTIONS = option('connections', 1);
const RATE = option('rate', 1);
const USERS = option('users', 1);
const ROWS = option('rows', 0);
const PACKAGE = 'crm';
const TARGET = { rate: 3000, p99: 25 };

interface Target {
  name: string;
  url: string;
  pid: number;
  package: string;
  /** Requests sent to it so far. */
  sent: number;
  /** Headers and body of the i-th upsert. */
  request(i: number): { headers: Record<string, string>; body: string };
}

interface Run {
  rate: number;
  p50: number;
  p99: number;
  max: number;
  requests: number;
  cpu: Record<string, number>;
  otherLoad: number;
}

function endpointOf(i: number): { user: string; endpoint: string } {
  const row = i % ROWS;
  return { user: `u${row % USERS}`, endpoint: `https://fcm.googleapis.com/fcm/send/bench-${row}` };
}

/** One autocannon run; `overallRate` 0 means as fast as the connections go. */
async function drive(target: Target, seconds: number, connections: number, overallRate: number, pids: Record<string, number[]>): Promise<Run> {
  const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, ps]) => [k, ps.reduce((s, p) => s + processCpuSeconds(p), 0)]));
  const own0 = process.cpuUsage();
  const machine0 = machineBusySeconds();
  const result: Result = await autocannon({
    url: target.url,
    connections,
    duration: seconds,
    ...(overallRate > 0 ? { overallRate } : {}),
    requests: [
      {
        method: 'POST',
        path: '/v1/subscriptions',
        setupRequest: (req) => ({ ...req, ...target.request(target.sent++) }),
      },
    ],
  });
  const cpu = Object.fromEntries(
    Object.entries(pids).map(([k, ps]) => [k, (ps.reduce((s, p) => s + processCpuSeconds(p), 0) - cpu0[k]!) / seconds]),
  );
  const own = process.cpuUsage(own0);
  cpu['autocannon'] = (own.user + own.system) / 1e6 / seconds;
  const busy = (machineBusySeconds() - machine0) / seconds;
  const otherLoad = Math.max(0, busy - Object.values(cpu).reduce((s, v) => s + v, 0));
  const failed = result.non2xx + result.errors + result.timeouts;
  if (failed > 0) throw new Error(`${target.name}: ${failed} requests failed (non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts})`);
  return {
    rate: result.requests.total / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    requests: result.requests.total,
    cpu,
    otherLoad,
  };
}

function startBaseline(databaseUrl: string): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(new URL('./support/bare-upsert-server.ts', import.meta.url).pathname, [databaseUrl], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`baseline server exited with ${String(code)}`)));
    child.stdout!.once('data', (chunk: Buffer) => resolve({ child, port: Number(chunk.toString().trim()) }));
  });
}

async function rowCount(databaseUrl: string, pkg: string): Promise<number> {
  const conn = await createConnection(databaseUrl);
  try {
    const [rows] = await conn.query("SELECT COUNT(*) AS n FROM push_subscription WHERE package = ? AND active = 'Y'", [pkg]);
    return Number((rows as { n: number }[])[0]!.n);
  } finally {
    await conn.end();
  }
}

const cpuText = (cpu: Record<string, number>, other: number) =>
  [...Object.entries(cpu).map(([k, v]) => `${k} ${v.toFixed(2)}`), `other load ${other.toFixed(2)}`].join(', ');

function render(results: { target: Target; saturated: Run; paced: Run }[], started: Date, seconds: number): string {
  const [baseline, axion] = results as [(typeof results)[0], (typeof results)[0]];
  const row = (name: string, r: Run, how: string) =>
    `| ${name} | ${how} | **${n(r.rate)}** | ${ms(r.p50)} | **${ms(r.p99)}** | ${ms(r.max)} | ${n(r.requests)} | ${cpuText(r.cpu, r.otherLoad)} |`;
  return [
    `Run ${started.toISOString()} — \`npm run bench:api\` (${Math.round(seconds)} s)`,
    '',
    machineLine('MariaDB on loopback'),
    `- Each request upserts one of ${n(ROWS)} (user, endpoint) pairs of ${n(USERS)} users in turn (first pass inserts, the rest update). Warm-up ${WARMUP} s per server, not measured. Saturated: ${CONNECTIONS} connections for ${SECONDS} s. Paced: ${n(RATE)} requests/s over ${CONNECTIONS * 2} connections for ${SECONDS} s. Latency is autocannon's, request sent → response read.`,
    '',
    '| server | load | upserts/s | p50 ms | p99 ms | max ms | requests | CPU cores busy |',
    '|---|---|---:|---:|---:|---:|---:|---|',
    ...results.flatMap(({ target, saturated, paced }) => [
      row(target.name, saturated, `saturated, c=${CONNECTIONS}`),
      row(target.name, paced, `paced at ${n(RATE)}/s`),
    ]),
    '',
    `- axion saturated throughput vs the baseline's: ${n(axion.saturated.rate)} / ${n(baseline.saturated.rate)} = **${(axion.saturated.rate / baseline.saturated.rate).toFixed(2)}×** (target: ≥ ${n(TARGET.rate)} upserts/s: **${axion.saturated.rate >= TARGET.rate ? 'met' : 'not met'}**)`,
    `- axion p99 paced at ${n(RATE)}/s: ${ms(axion.paced.p99)} ms vs the baseline's ${ms(baseline.paced.p99)} ms = **${(axion.paced.p99 / baseline.paced.p99).toFixed(2)}×** (target: ≤ ${TARGET.p99} ms: **${axion.paced.p99 <= TARGET.p99 && axion.paced.rate >= RATE * 0.98 ? 'met' : 'not met'}**)`,
  ].join('\n');
}

async function main(): Promise<void> {
  const started = new Date();
  const fleet = new Fleet();
  let baseline: ChildProcess | undefined;
  try {
    fleet.database = await createTestDatabase('mysql');
    const databaseUrl = fleet.database.config.url;
    const env = fleet.env({ producer: 'bench-producer-key-0123456789', router: 'bench-router-key-0123456789' }, {
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      LOG_LEVEL: 'warn',
      // The limiter stays on (its Redis round trip is part of a request's cost), with room for
      // a user whose two browsers subscribe again and again at the benchmark's rate.
      RATE_LIMIT_USER_PER_MINUTE: '1000000',
    });
    const api = fleet.start('subscription-api', { ...env, LOG_LEVEL: 'info' });
    const { port: apiPort } = await api.waitForLog('http api listening');
    const bare = await startBaseline(databaseUrl);
    baseline = bare.child;

    const keys = createBrowserKeys();
    const tokens = await Promise.all(Array.from({ length: USERS }, (_, i) => userToken(`u${i}`, [PACKAGE], { expiresIn: '1h' })));
    // As the browser client sends it: the key the browser subscribed with included.
    const applicationServerKey = ((await (await fetch(`http://127.0.0.1:${String(apiPort)}/v1/vapid/${PACKAGE}`)).json()) as { publicKey: string }).publicKey;
    const subscription = (endpoint: string) => ({ endpoint, expirationTime: null, keys: { p256dh: keys.p256dh, auth: keys.auth }, applicationServerKey });
    const targets: Target[] = [
      {
        name: 'baseline: node:http + mysql2, one INSERT … ON DUPLICATE KEY UPDATE, no auth or checks',
        url: `http://127.0.0.1:${bare.port}`,
        pid: bare.child.pid!,
        package: `${PACKAGE}-bare`,
        sent: 0,
        request: (i) => {
          const { user, endpoint } = endpointOf(i);
          // A package of its own, so the axion run starts by inserting too.
          return { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, package: targets[0]!.package, ...subscription(endpoint) }) };
        },
      },
      {
        name: 'axion `POST /v1/subscriptions` (JWT, schema, endpoint policy, VAPID key, upsert, count)',
        url: `http://127.0.0.1:${String(apiPort)}`,
        pid: api.pid!,
        package: PACKAGE,
        sent: 0,
        request: (i) => {
          const { user, endpoint } = endpointOf(i);
          return {
            headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[Number(user.slice(1))]!}` },
            body: JSON.stringify({ package: PACKAGE, ...subscription(endpoint) }),
          };
        },
      },
    ];

    const results: { target: Target; saturated: Run; paced: Run }[] = [];
    for (const target of targets) {
      const pids = { server: [target.pid], mariadb: pidsOf('mariadbd') };
      console.error(`${target.name}: warm-up …`);
      await drive(target, WARMUP, CONNECTIONS, 0, pids);
      console.error(`${target.name}: saturated …`);
      const saturated = await drive(target, SECONDS, CONNECTIONS, 0, pids);
      console.error(`${target.name}: paced at ${RATE}/s …`);
      const paced = await drive(target, SECONDS, CONNECTIONS * 2, RATE, pids);
      results.push({ target, saturated, paced });
    }
    const block = render(results, started, (Date.now() - started.getTime()) / 1000);
    console.log(block);
    // Each server stored every pair it was sent, each once. Requests in flight when a run ended
    // were cut off, and may or may not have been stored; a pair such a request carried is
    // missing unless a later pass sent it again.
    const cutOff = CONNECTIONS * 4; // warm-up (c), saturated (c), paced (2c)
    for (const target of targets) {
      const [least, most] = [Math.min(ROWS, target.sent) - cutOff, Math.min(ROWS, target.sent)];
      const stored = await rowCount(databaseUrl, target.package);
      if (stored < least || stored > most) throw new Error(`${target.name}: expected ${least}–${most} subscriptions after the runs, found ${stored}`);
    }
    if (!opts['no-write']) writePerformanceBlock('api', block);
  } finally {
    baseline?.disconnect();
    await fleet.close();
  }
}

await main();
