/**
 * `npm run bench:push`: what one event to 10,000 Web Push subscriptions costs, beside what the
 * crypto alone costs and what a plain `web-push` loop achieves, in one run on the same cores.
 *
 *   (a) RFC 8291 `encryptPayload` + a cached VAPID header, tight loop, one core
 *   (b) `web-push` `sendNotification` (vapidDetails per call), concurrency 50
 *   (c) the real path: SQLite subscriptions, BullMQ push jobs on the local Redis (chunks of
 *       MAX_USERS_PER_PUSH_JOB users, made by the notify-router's own `routeEvent`), the real
 *       `startPushWorker` (1 process, then 2 processes), concurrency 50
 *   (p) (c) once more with `--cpu-prof`, summarised: where the worker's time goes
 *
 * The machine's speed drifts by ±10–25% within seconds, so (c) with 1 process and with 2
 * processes each run --repeats times (5), every 1-process run between two short (a) loops of its
 * own; the ratios are given per run and as their median.
 *
 * The push service is a minimal HTTP/1.1 server on node:net in its own process (bench/support). Everything
 * the run creates (temp directory, SQLite file or MariaDB database, Redis keys under a unique
 * prefix, child processes) is removed before it exits.
 *
 * Options: --messages=N (10000) --concurrency=N (50) --db2=sqlite|mysql (database for the
 * 2-process run; sqlite) --log-level=info --no-profile --no-write (leave docs/performance.md alone)
 * --keep-profile=FILE (copy the profiled run's .cpuprofile there) --repeats=N (5)
 * --warm-up=N (messages each worker process sends before it is measured; 30000)
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { MoreThanOrEqual } from 'typeorm';
import {
  createSubscriptionStore,
  createVapidKeyStore,
  hashEndpoint,
  startDatabase,
  type Database,
  type VapidKey,
} from '../shared/database/index.js';
import { PushSubscriptionEntity } from '../shared/entities/index.js';
import {
  buildMessage,
  eventSchema,
  MAX_USERS_PER_PUSH_JOB,
  pushJobSchema,
  type Event,
  type Message,
  type PushJob,
  type RouteJob,
} from '../shared/events/index.js';
import { checkEndpoint } from '../shared/push-endpoints/index.js';
import { createPushQueue } from '../shared/queue/index.js';
import { createTopics, QUEUE_NAMES } from '../shared/topics/index.js';
import { decodeBase64Url, generateVapidKeyPair } from '../shared/vapid/index.js';
import { encryptPayload } from '../services/push-worker/encrypt-payload.js';
import { createPlaintexts, pushRequest } from '../services/push-worker/prepare-push.js';
import { createTargetResolver } from '../services/notify-router/resolve-target.js';
import { routeEvent } from '../services/notify-router/route-event.js';
import { createVapidAuthorizer } from '../services/push-worker/vapid-jwt.js';
import { PUSH_WORKER_NODE_FLAGS } from '../services/push-worker/node-flags.js';
import { testLogger } from '../test/support/silent-logger.js';
import { createTestDatabase, type TestDatabase } from '../test/support/test-databases.js';
import {
  createBrowserKeys,
  decryptPayload,
  verifyVapidAuthorization,
  type BrowserKeys,
} from '../test/support/web-push-receiver.js';
import { summariseProfile, type ProfileSummary } from './support/cpu-profile.js';
import { writePerformanceBlock } from './support/performance-doc.js';
import { numberOption } from './support/options.js';
import { machineBusySeconds, pidsOf, processCpuSeconds, type ThreadCpu } from './support/proc-stats.js';
import type { WorkerSettings } from './support/push-worker-process.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const SERVICE_SCRIPT = join(HERE, 'support', 'push-service-process.ts');
const WORKER_SCRIPT = join(HERE, 'support', 'push-worker-process.ts');

// (a) and (b) run in this process, on the worker's Node flags (`npm run bench:push` gives them),
// or the ratios would credit the worker with what the flags save everyone: --single-threaded-gc
// alone made (a)'s own loop about 10 µs per message cheaper (docs/performance.md).
const missingFlags = PUSH_WORKER_NODE_FLAGS.filter((flag) => !process.execArgv.includes(flag));
if (missingFlags.length > 0) {
  console.error(`bench:push: run it as \`npm run bench:push\`, on the worker's Node flags (missing: ${missingFlags.join(' ')})`);
  process.exit(2);
}

const { values: opts } = parseArgs({
  options: {
    messages: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '50' },
    db2: { type: 'string', default: 'sqlite' },
    'log-level': { type: 'string', default: 'info' },
    'no-profile': { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    'keep-profile': { type: 'string' },
    repeats: { type: 'string', default: '5' },
    'warm-up': { type: 'string', default: '30000' },
    http2: { type: 'string', default: 'always' },
  },
});
const countOption = (name: 'messages' | 'concurrency' | 'repeats' | 'warm-up', min: number) =>
  numberOption('bench:push', name, opts[name], { min, whole: true });
if (opts.db2 !== 'sqlite' && opts.db2 !== 'mysql') {
  console.error(`bench:push: --db2 must be sqlite or mysql, got ${JSON.stringify(opts.db2)}`);
  process.exit(2);
}
if (opts.http2 !== 'always' && opts.http2 !== 'off') {
  console.error(`bench:push: --http2 must be always or off, got ${JSON.stringify(opts.http2)}`);
  process.exit(2);
}
/**
 * The workers' PUSH_HTTP2. The push service here is plain http:// on loopback, where the
 * default (`auto`) speaks HTTP/1.1; `always` gives it what `auto` gives a push service over TLS
 * that offers h2, as FCM and Apple's do.
 */
const HTTP2 = opts.http2;
const N = countOption('messages', 1);
const CONCURRENCY = countOption('concurrency', 1);
const LOG_LEVEL = opts['log-level']!;
const DB2 = opts.db2;
const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const PKG = 'bench';
const SUBJECT = 'mailto:bench@example.com';
const REPEATS = countOption('repeats', 1);
const A_SECONDS = 2.5;
/** Each (a) loop just before and just after a 1-process (c) run. */
const A_BRACKET_SECONDS = 1.25;
const OVERALL_DEADLINE_MS = 120_000 + REPEATS * 90_000;
const SAMPLE_EVERY = Math.max(1, Math.floor(N / 20));
/**
 * Messages each worker process delivers before it is measured, as events to up to all the
 * subscribers: V8 was still compiling the send path after 3,000 (docs/performance.md).
 */
const WARM_UP_PER_PROCESS = countOption('warm-up', 0);
/** Messages web-push's loop (b) sends before it is measured. */
const B_WARM_UP = 2_000;

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = testLogger();
const note = (line: string) => process.stderr.write(`[bench] ${line}\n`);

// ------------------------------------------------------------------------------------------------
// Resources that cleanup() must release, whatever happens.
const children = new Set<ChildProcess>();
let tmp: string | undefined;
let redis: Redis | undefined;
let queuePrefix: string | undefined;
const databases: { db: Database; drop?: TestDatabase }[] = [];

async function cleanup(): Promise<void> {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
  for (const { db, drop } of databases.splice(0)) {
    await db.close().catch(() => undefined);
    await drop?.drop().catch((err: Error) => note(`could not drop test database: ${err.message}`));
  }
  if (redis && queuePrefix) {
    try {
      const queue = new Queue(QUEUE_NAMES.push, { connection: redis, prefix: queuePrefix });
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
      // Anything BullMQ keeps outside the obliterated set (meta, markers): delete by prefix.
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${queuePrefix}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== '0');
    } catch (err) {
      note(`redis cleanup failed: ${(err as Error).message}`);
    }
  }
  await redis?.quit().catch(() => undefined);
  redis = undefined;
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
}

// ------------------------------------------------------------------------------------------------
// Child processes

interface ChildMessage {
  type: string;
  [k: string]: unknown;
}

function spawnChild(script: string, execArgv: string[], stdout: 'ignore' | 'inherit' | number): ChildProcess {
  const child = fork(script, [], {
    execArgv: [...process.execArgv, ...execArgv],
    stdio: ['ignore', stdout, 'inherit', 'ipc'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function nextMessage(child: ChildProcess, type: string, timeoutMs = 30_000): Promise<ChildMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanupListeners();
      reject(new Error(`no "${type}" from child ${child.pid} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (msg: ChildMessage) => {
      if (msg.type === 'error') {
        cleanupListeners();
        reject(new Error(`child ${child.pid}: ${String(msg['message'])}`));
      } else if (msg.type === type) {
        cleanupListeners();
        resolve(msg);
      }
    };
    const onExit = (code: number | null) => {
      cleanupListeners();
      reject(new Error(`child ${child.pid} exited (${code}) while waiting for "${type}"`));
    };
    const cleanupListeners = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

async function request(child: ChildProcess, msg: ChildMessage, reply: string, timeoutMs?: number) {
  const answer = nextMessage(child, reply, timeoutMs);
  child.send(msg);
  return answer;
}

interface PushServiceStats {
  received: number;
  distinct: number;
  firstAt: number;
  lastAt: number;
  samples: { path: string; authorization: string; headers: Record<string, unknown>; body: string }[];
  cpu: NodeJS.CpuUsage;
}

class PushService {
  origin = '';
  private constructor(readonly child: ChildProcess) {}

  static async start(): Promise<PushService> {
    const service = new PushService(spawnChild(SERVICE_SCRIPT, [], 'ignore'));
    service.origin = String((await nextMessage(service.child, 'listening'))['origin']);
    return service;
  }

  /** Starts counting a new run; the promise resolves with the time `target` paths were seen. */
  async reset(target: number, sampleEvery = 0): Promise<{ reached: Promise<number> }> {
    await request(this.child, { type: 'reset', target, sampleEvery }, 'reset-done');
    const reached = nextMessage(this.child, 'reached', 150_000).then((m) => Number(m['at']));
    reached.catch(() => undefined);
    return { reached };
  }

  async stats(): Promise<PushServiceStats> {
    return (await request(this.child, { type: 'stats' }, 'stats')) as unknown as PushServiceStats;
  }
}

interface WorkerCpu {
  cpu: NodeJS.CpuUsage;
  /** CPU seconds by thread, from /proc (null where /proc is not readable). */
  threads: ThreadCpu | null;
  /** Bytes allocated on the JS heap so far (approximate, from V8's GC statistics). */
  heapAllocated: number;
  mono: number;
}

class WorkerProcess {
  readonly logFile: string;
  private constructor(
    readonly child: ChildProcess,
    logFile: string,
  ) {
    this.logFile = logFile;
  }

  static async start(settings: WorkerSettings, profileDir?: string): Promise<WorkerProcess> {
    const logFile = join(tmp!, `${settings.name}.log`);
    const fd = openSync(logFile, 'w');
    // With this process's execArgv (spawnChild), so with the worker's Node flags, as production.
    const execArgv = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
    const child = spawnChild(WORKER_SCRIPT, execArgv, fd);
    closeSync(fd);
    await nextMessage(child, 'spawned', 60_000);
    await request(child, { type: 'start', settings }, 'ready', 60_000);
    return new WorkerProcess(child, logFile);
  }

  async cpu(): Promise<WorkerCpu> {
    const m = await request(this.child, { type: 'cpu' }, 'cpu');
    return {
      cpu: m['cpu'] as NodeJS.CpuUsage,
      threads: (m['threads'] as ThreadCpu | null) ?? null,
      heapAllocated: Number(m['heapAllocated']),
      mono: Number(m['mono']),
    };
  }

  async stop(): Promise<void> {
    const exited = new Promise<void>((r) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) r();
      else this.child.once('exit', () => r());
    });
    try {
      await request(this.child, { type: 'stop' }, 'stopped', 15_000);
    } catch (err) {
      note(`worker ${this.child.pid} did not stop cleanly (${(err as Error).message}); killing it`);
      this.child.kill('SIGKILL');
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  /** Warnings and errors the worker logged (JSON lines, level >= 40). */
  problems(): { count: number; first: string[] } {
    const first: string[] = [];
    let count = 0;
    for (const line of readFileSync(this.logFile, 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line) as { level?: number; msg?: string; err?: unknown };
        if ((entry.level ?? 0) >= 40 && !String(entry.msg).startsWith('PUSH_ALLOW_INSECURE_LOOPBACK')) {
          count++;
          if (first.length < 3) first.push(`${entry.msg}${entry.err ? `: ${JSON.stringify(entry.err)}` : ''}`);
        }
      } catch {
        // not JSON
      }
    }
    return { count, first };
  }
}

// ------------------------------------------------------------------------------------------------
// Machine-level CPU accounting

const cpuSeconds = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;
const cpuDelta = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage) => cpuSeconds(b) - cpuSeconds(a);

/** CPU seconds of every process whose command name is `comm`. */
const cpuSecondsOf = (comm: string) => pidsOf(comm).reduce((sum, pid) => sum + processCpuSeconds(pid), 0);

/** Redis commands run so far (INFO commandstats): calls and µs per command name. */
async function redisCommandStats(client: Redis): Promise<Map<string, { calls: number; usec: number }>> {
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const m of (await client.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    stats.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
  }
  return stats;
}

/** CPU ticks of every process on the machine (kernel threads included), by pid. */
function processTicks(): Map<number, { comm: string; ticks: number }> {
  const all = new Map<number, { comm: string; ticks: number }>();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      all.set(Number(pid), { comm, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // gone
    }
  }
  return all;
}

/** The processes other than ours that used the most CPU between two snapshots (cores). */
function otherProcesses(
  before: Map<number, { comm: string; ticks: number }>,
  after: Map<number, { comm: string; ticks: number }>,
  ours: Set<number>,
  seconds: number,
): string {
  const byComm = new Map<string, number>();
  for (const [pid, p] of after) {
    if (ours.has(pid)) continue;
    const delta = p.ticks - (before.get(pid)?.ticks ?? 0);
    if (delta > 0) byComm.set(p.comm, (byComm.get(p.comm) ?? 0) + delta / 100);
  }
  const top = [...byComm.entries()].sort((x, y) => y[1] - x[1]).slice(0, 3).filter(([, cpu]) => cpu / seconds >= 0.02);
  return top.length ? top.map(([comm, cpu]) => `${comm} ${(cpu / seconds).toFixed(2)}`).join(', ') : 'none';
}

async function redisCpuSeconds(client: Redis): Promise<number> {
  const info = await client.info('cpu');
  const get = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? Number.NaN);
  return get('used_cpu_user') + get('used_cpu_sys');
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

/** Busy cores of the whole machine over `ms`, before this benchmark starts its own work. */
async function idleLoad(ms: number): Promise<number> {
  const m0 = machineBusySeconds();
  const c0 = process.cpuUsage();
  await sleep(ms);
  return (machineBusySeconds() - m0 - cpuSeconds(process.cpuUsage(c0))) / (ms / 1000);
}

/**
 * Compiles the project as `npm run build` does: the workers run `dist/`, as the production start
 * command (`npm run start:push-worker`) does, not the sources through tsx.
 */
function buildDist(): number {
  const t = now();
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const built = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`npm run build failed:\n${built.stdout}${built.stderr}`);
  return (now() - t) / 1000;
}

/** Identifies the sources measured (the repository may be mid-change): a hash and the newest file. */
function codeFingerprint(): string {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) files.push(path);
    }
  };
  walk(join(ROOT, 'services', 'push-worker'));
  walk(join(ROOT, 'shared'));
  files.sort();
  const hash = createHash('sha256');
  let newest = { path: '', mtime: 0 };
  for (const file of files) {
    hash.update(file.slice(ROOT.length)).update('\0').update(readFileSync(file)).update('\0');
    const mtime = statSync(file).mtimeMs;
    if (mtime > newest.mtime) newest = { path: file.slice(ROOT.length + 1), mtime };
  }
  return `services/push-worker + shared, ${files.length} files, sha256 ${hash.digest('hex').slice(0, 12)}, newest ${newest.path} (${new Date(newest.mtime).toISOString()})`;
}

// ------------------------------------------------------------------------------------------------
// Workload

interface Subscriber {
  user: string;
  keys: BrowserKeys;
  p256dh: Buffer;
  auth: Buffer;
}

/** The event every benchmark sends (delivery `always`: Web Push for every user). */
const BENCH_EVENT: Event = eventSchema.parse({
  title: 'Your weekly report is ready',
  body: 'The export you scheduled finished: 3 files, 2.4 MB. Open the dashboard to download them.',
  url: 'https://app.example.com/reports/2025-w23',
  tag: 'report',
  data: { reportId: 'r-20250607-0042' },
  ttl: 3600,
  urgency: 'normal',
  delivery: 'always',
});

/** The Message one user receives, as (a) and (b) send it and as (c)'s workers build it. */
function messageOf(eventId: string, user: string, createdAt: string): Message {
  return buildMessage(BENCH_EVENT, { id: eventId, package: PKG, user, createdAt });
}

/**
 * The push jobs of one event to `users`, made by the notify-router's `routeEvent` itself (its
 * realtime publishing and status write stubbed out), so the chunks of MAX_USERS_PER_PUSH_JOB
 * users are exactly the router's. The HTTP intake caps a target at 1,000 users, so a producer
 * reaching 10,000 sends ten events; their chunks are the same as those of one event here.
 */
async function pushJobsFor(eventId: string, users: readonly Subscriber[]): Promise<PushJob[]> {
  const { id: _id, ...event } = BENCH_EVENT;
  const routeJob: RouteJob = {
    id: eventId,
    package: PKG,
    target: { users: users.map((u) => u.user) },
    event,
    acceptedAt: new Date().toISOString(),
    source: 'http',
  };
  const jobs: PushJob[] = [];
  await routeEvent(
    {
      realtime: { publish: async () => undefined },
      inbox: { add: async () => new Map(), publishUnseen: async () => undefined },
      presence: { online: async () => new Set<string>() },
      resolveTarget: createTargetResolver({
        forEachBatch: async () => undefined,
        forEachActiveUserBatch: async () => undefined,
      }),
      status: { set: async () => undefined },
      pushQueue: {
        addBulk: async (queued) => {
          jobs.push(...queued);
        },
        close: async () => undefined,
      },
      topics: createTopics(),
      log,
    },
    routeJob,
  );
  return jobs;
}

const endpointOf = (origin: string, index: number) => `${origin}/push/${index}`;
const hashOf = (origin: string, index: number) => hashEndpoint(endpointOf(origin, index));
const indexOfPath = (path: string) => Number(/\/(\d+)$/.exec(path)?.[1] ?? -1);

/** Decrypts and verifies the sampled requests as a browser / push service would. */
function verifySamples(stats: PushServiceStats, subscribers: Subscriber[], origin: string, eventId: string): string {
  let ok = 0;
  const problems: string[] = [];
  for (const sample of stats.samples) {
    try {
      const sub = subscribers[indexOfPath(sample.path)];
      if (!sub) throw new Error(`unknown path ${sample.path}`);
      const plain = decryptPayload({ body: Buffer.from(sample.body, 'base64'), privateKey: sub.keys.privateKey, auth: sub.keys.auth });
      const message = JSON.parse(plain.toString('utf8')) as Message;
      if (message.user !== sub.user || message.id !== eventId) throw new Error('wrong message for this subscription');
      if (message.title !== BENCH_EVENT.title) throw new Error('wrong message content');
      const { claims } = verifyVapidAuthorization(sample.authorization);
      if (claims.aud !== origin) throw new Error(`aud ${claims.aud}`);
      if (claims.sub !== SUBJECT) throw new Error(`sub ${claims.sub}`);
      if (claims.exp > Date.now() / 1000 + 24 * 3600) throw new Error('exp > 24 h');
      ok++;
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  return problems.length ? `${ok}/${stats.samples.length} ok; ${problems.slice(0, 2).join('; ')}` : `${ok}/${stats.samples.length} ok`;
}

// ------------------------------------------------------------------------------------------------
// (a) crypto only

interface CryptoResult {
  otherCores: number;
  messages: number;
  wallSeconds: number;
  cpuSeconds: number;
  perCore: number;
  usPerMessage: number;
}

function benchCrypto(
  subscribers: Subscriber[],
  origin: string,
  vapid: { publicKey: string; privateKey: string },
  seconds = A_SECONDS,
): CryptoResult {
  const authorizer = createVapidAuthorizer({ subject: SUBJECT });
  const plaintext = Buffer.from(JSON.stringify(messageOf('bench-a', subscribers[0]!.user, new Date().toISOString())));
  const step = (i: number) => {
    const s = subscribers[i % subscribers.length]!;
    encryptPayload({ plaintext, p256dh: s.p256dh, auth: s.auth });
    authorizer.authorization(origin, vapid);
  };
  for (let i = 0; i < 500; i++) step(i); // warm-up; signs the one JWT
  const cpu0 = process.cpuUsage();
  const machine0 = machineBusySeconds();
  const t0 = now();
  let n = 0;
  const until = t0 + seconds * 1000;
  while (true) {
    for (let j = 0; j < 200; j++) step(n++);
    if (now() >= until) break;
  }
  const wallSeconds = (now() - t0) / 1000;
  const cpu = cpuSeconds(process.cpuUsage(cpu0));
  const otherCores = Math.max(0, (machineBusySeconds() - machine0 - cpu) / wallSeconds);
  return { messages: n, wallSeconds, cpuSeconds: cpu, perCore: n / cpu, usPerMessage: (cpu * 1e6) / n, otherCores };
}

/** Two (a) loops taken as one: the messages and CPU of both. */
function joinCrypto(x: CryptoResult, y: CryptoResult): CryptoResult {
  const messages = x.messages + y.messages;
  const wallSeconds = x.wallSeconds + y.wallSeconds;
  const cpu = x.cpuSeconds + y.cpuSeconds;
  const otherCores = (x.otherCores * x.wallSeconds + y.otherCores * y.wallSeconds) / wallSeconds;
  return { messages, wallSeconds, cpuSeconds: cpu, perCore: messages / cpu, usPerMessage: (cpu * 1e6) / messages, otherCores };
}

/** A 1-process (c) run and the (a) measured around it. */
interface BracketedRun {
  c: SystemResult;
  a: CryptoResult;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/**
 * µs per call of the worker's steps that (a) leaves out (one core, tight loops): per message,
 * except the parse, which runs once per job of up to MAX_USERS_PER_PUSH_JOB users.
 */
async function benchSteps(subscribers: Subscriber[], origin: string): Promise<{ name: string; us: number }[]> {
  const job = (await pushJobsFor('bench-steps', subscribers.slice(0, MAX_USERS_PER_PUSH_JOB)))[0]!;
  const sub = subscribers[0]!;
  const endpoint = endpointOf(origin, 0);
  const policy = { allowedHosts: [], allowInsecureLoopback: true };
  const body = Buffer.alloc(300);
  const time = (name: string, fn: () => void, iterations = 20_000) => {
    for (let i = 0; i < 1000; i++) fn();
    const t0 = process.cpuUsage();
    for (let i = 0; i < iterations; i++) fn();
    return { name, us: cpuSeconds(process.cpuUsage(t0)) * 1e6 / iterations };
  };
  return [
    time(`zod pushJobSchema.safeParse(job.data), once per job of ${job.users.length} users`, () => pushJobSchema.safeParse(job)),
    time('decode p256dh + auth (base64url, strict)', () => {
      decodeBase64Url(sub.keys.p256dh);
      decodeBase64Url(sub.keys.auth);
    }),
    time('createPlaintexts(job)(user): messageFor + JSON.stringify + Buffer.from', () => createPlaintexts(job)(sub.user)),
    time('checkEndpoint (the policy, and the URL the send uses)', () => void checkEndpoint(endpoint, policy).url?.origin),
    time('pushRequest (headers)', () => pushRequest(job, endpoint, body, 'vapid t=x, k=y', Date.now())),
  ];
}

/**
 * µs per call of the worker's per-message database and Redis-client steps, on the SQLite file
 * (default synchronous=FULL, as in the workers) and on ioredis: CPU and wall (wall − CPU is
 * waiting, e.g. for an fsync).
 */
async function benchSystemSteps(
  store: ReturnType<typeof createSubscriptionStore>,
  subscribers: Subscriber[],
  origin: string,
  bullmqConnection: Redis,
): Promise<{ name: string; cpuUs: number; wallUs: number }[]> {
  const time = async (name: string, iterations: number, fn: (i: number) => unknown) => {
    for (let i = 0; i < 50; i++) await fn(i);
    const c0 = process.cpuUsage();
    const t0 = now();
    for (let i = 0; i < iterations; i++) await fn(i);
    return { name, cpuUs: (cpuSeconds(process.cpuUsage(c0)) * 1e6) / iterations, wallUs: ((now() - t0) * 1000) / iterations };
  };
  const user = (i: number) => subscribers[i % subscribers.length]!.user;
  const plain = new Redis(REDIS_URL, { lazyConnect: true });
  const scripts = Object.keys((bullmqConnection as unknown as { scriptsSet: object }).scriptsSet).length;
  const buildMulti = (r: Redis) => r.multi().sadd(`${queuePrefix}:x`, 'a').pexpireat(`${queuePrefix}:x`, Date.now());
  // The worker's reads and writes of one job: all of its users at once.
  const chunk = (i: number) =>
    Array.from({ length: MAX_USERS_PER_PUSH_JOB }, (_, j) => (i * MAX_USERS_PER_PUSH_JOB + j) % subscribers.length);
  const rows = [
    await time('SubscriptionStore.listActive, 1 user (SQL, SQLite)', 1000, (i) => store.listActive(PKG, [user(i)])),
    await time(`SubscriptionStore.listActive, ${MAX_USERS_PER_PUSH_JOB} users (SQL, SQLite; once per job)`, 200, (i) =>
      store.listActive(PKG, chunk(i).map(user)),
    ),
    await time('SubscriptionStore.recordSuccesses, 1 key (one UPDATE, SQLite commit)', 1000, (i) =>
      store.recordSuccesses(PKG, [{ user: user(i), endpointHash: hashOf(origin, i) }], new Date()),
    ),
    await time(`SubscriptionStore.recordSuccesses, ${MAX_USERS_PER_PUSH_JOB} keys (one UPDATE, SQLite commit; once per job)`, 200, (i) =>
      store.recordSuccesses(PKG, chunk(i).map((k) => ({ user: user(k), endpointHash: hashOf(origin, k) })), new Date()),
    ),
    await time(`ioredis multi() + 2 commands, not sent, on the BullMQ connection (${scripts} scripts defined)`, 5000, () => buildMulti(bullmqConnection)),
    await time('ioredis multi() + 2 commands, not sent, on a plain connection', 5000, () => buildMulti(plain)),
  ];
  plain.disconnect();
  return rows;
}

// ------------------------------------------------------------------------------------------------
// (b) plain web-push

interface WebPushLike {
  sendNotification(
    subscription: { endpoint: string; keys: { p256dh: string; auth: string } },
    payload: string | Buffer,
    options: Record<string, unknown>,
  ): Promise<{ statusCode: number }>;
}

/**
 * web-push always calls `https.request`; to reach the same plain-HTTP push service as (c) it is
 * given an https.Agent whose sockets are plain TCP (keep-alive, like Node 20's global agent).
 * Everything web-push does itself (encryption, VAPID signing, request building) is unchanged.
 */
class PlainTcpAgent extends https.Agent {
  override createConnection(options: net.NetConnectOpts): net.Socket {
    return net.createConnection(options);
  }
}

interface LoopResult {
  otherCores: number;
  pushServiceCpuSeconds: number;
  messages: number;
  failures: number;
  wallSeconds: number;
  cpuSeconds: number;
  rate: number;
  distinct: number;
  received: number;
  verified: string;
}

async function benchWebPush(
  service: PushService,
  subscribers: Subscriber[],
  vapid: { publicKey: string; privateKey: string },
): Promise<LoopResult> {
  const webpush = createRequire(import.meta.url)('web-push') as WebPushLike;
  const agent = new PlainTcpAgent({ keepAlive: true, maxSockets: CONCURRENCY });
  const createdAt = new Date().toISOString();
  const send = async (index: number, eventId: string) => {
    const s = subscribers[index]!;
    await webpush.sendNotification(
      { endpoint: endpointOf(service.origin, index), keys: { p256dh: s.keys.p256dh, auth: s.keys.auth } },
      JSON.stringify(messageOf(eventId, s.user, createdAt)),
      {
        vapidDetails: { subject: SUBJECT, publicKey: vapid.publicKey, privateKey: vapid.privateKey },
        TTL: 3600,
        urgency: 'normal',
        agent,
        timeout: 10_000,
      },
    );
  };
  const loop = async (count: number, eventId: string) => {
    let next = 0;
    let failures = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < count) {
          const i = next++;
          await send(i, eventId).catch(() => failures++);
        }
      }),
    );
    return failures;
  };
  await service.reset(Number.POSITIVE_INFINITY);
  await loop(Math.min(B_WARM_UP, N), 'bench-b-warm');
  const { reached } = await service.reset(N, SAMPLE_EVERY);
  const svc0 = await service.stats();
  const machine0 = machineBusySeconds();
  const cpu0 = process.cpuUsage();
  const t0 = now();
  const failures = await loop(N, 'bench-b');
  const cpu = cpuSeconds(process.cpuUsage(cpu0));
  const t1 = failures === 0 ? await reached : now();
  const stats = await service.stats();
  const machine = machineBusySeconds() - machine0;
  const pushServiceCpuSeconds = cpuDelta(svc0.cpu, stats.cpu);
  agent.destroy();
  const wallSeconds = (t1 - t0) / 1000;
  return {
    otherCores: Math.max(0, (machine - cpu - pushServiceCpuSeconds) / wallSeconds),
    pushServiceCpuSeconds,
    messages: N,
    failures,
    wallSeconds,
    cpuSeconds: cpu,
    rate: N / wallSeconds,
    distinct: stats.distinct,
    received: stats.received,
    verified: verifySamples(stats, subscribers, service.origin, 'bench-b'),
  };
}

// ------------------------------------------------------------------------------------------------
// (c) the real path

interface SystemResult {
  label: string;
  processes: number;
  messages: number;
  database: string;
  enqueueSeconds: number;
  firstRequestSeconds: number;
  reachedSeconds: number;
  doneSeconds: number;
  rate: number;
  workerCpuSeconds: number;
  /** µs per message of the workers' main threads (user, system) and their other threads. */
  threadSplit: ThreadCpu | null;
  /** KB allocated on the workers' JS heaps per message (approximate). */
  heapKbPerMessage: number;
  workerCpuPerProcess: number[];
  workerCoresBusy: number;
  usPerMessage: number;
  perWorkerCore: number;
  redisCpuSeconds: number;
  mariadbCpuSeconds: number | null;
  pushServiceCpuSeconds: number;
  producerCpuSeconds: number;
  machineBusyCores: number;
  otherCores: number;
  otherProcesses: string;
  received: number;
  distinct: number;
  completed: number;
  failed: number;
  dbUpdated: number;
  problems: string[];
  verified: string;
  redisCommands: { name: string; callsPerMessage: number; usecPerMessage: number }[];
  profile?: ProfileSummary;
}

interface SystemContext {
  service: PushService;
  subscribers: Subscriber[];
  pushQueue: ReturnType<typeof createPushQueue>;
  queue: Queue;
  database: Database;
  databaseUrl: string;
  databaseKind: string;
}

async function jobCounts(queue: Queue) {
  const c = await queue.getJobCounts('completed', 'failed', 'active', 'waiting', 'delayed', 'prioritized');
  return { completed: c['completed'] ?? 0, failed: c['failed'] ?? 0 };
}

async function waitForCounts(queue: Queue, baseline: { completed: number; failed: number }, total: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await jobCounts(queue);
    const done = c.completed - baseline.completed + (c.failed - baseline.failed);
    if (done >= total) return { at: now(), completed: c.completed - baseline.completed, failed: c.failed - baseline.failed };
    if (Date.now() > deadline) {
      throw new Error(`only ${done}/${total} jobs finished within ${timeoutMs} ms`);
    }
    await sleep(50);
  }
}

async function runSystem(
  ctx: SystemContext,
  label: string,
  processes: number,
  profile: boolean,
  count = N,
): Promise<SystemResult> {
  const { service, pushQueue, queue } = ctx;
  const subscribers = ctx.subscribers.slice(0, count);
  const profileDir = profile ? join(tmp!, `profile-${label}`) : undefined;
  const workers: WorkerProcess[] = [];
  for (let p = 0; p < processes; p++) {
    workers.push(
      await WorkerProcess.start(
        {
          databaseUrl: ctx.databaseUrl,
          redisUrl: REDIS_URL,
          queuePrefix: queuePrefix!,
          concurrency: CONCURRENCY,
          logLevel: LOG_LEVEL,
          vapidSubject: SUBJECT,
          timeoutMs: 10_000,
          maxAttempts: 8,
          http2: HTTP2,
          name: `${label}-w${p}`,
        },
        profileDir,
      ),
    );
  }
  try {
    // Warm-up events (JIT, connection pools, the VAPID key and JWT caches, V8's young generation
    // grown to its working size): a running worker is warm. After 3,000 messages V8 was still
    // compiling the send path: about 12 µs of the helper threads' CPU per measured message,
    // against 3–6 once a process has sent 30,000 (docs/performance.md).
    for (let left = WARM_UP_PER_PROCESS * processes, round = 0; left > 0; round++) {
      const warmUsers = subscribers.slice(0, Math.min(count, left));
      left -= warmUsers.length;
      const warmJobs = await pushJobsFor(`${label}-warm-${round}`, warmUsers);
      const warmBaseline = await jobCounts(queue);
      const warm = await service.reset(warmUsers.length);
      await pushQueue.addBulk(warmJobs);
      await warm.reached;
      await waitForCounts(queue, warmBaseline, warmJobs.length, 60_000);
    }

    const eventId = `${label}-event`;
    const jobs = await pushJobsFor(eventId, subscribers);
    const baseline = await jobCounts(queue);
    const { reached } = await service.reset(count, SAMPLE_EVERY);
    const svc0 = await service.stats();
    const redis0 = await redisCpuSeconds(redis!);
    const redisPid = Number(/process_id:(\d+)/.exec(await redis!.info('server'))?.[1] ?? -1);
    const commands0 = await redisCommandStats(redis!);
    const maria0 = ctx.databaseKind === 'mysql' ? cpuSecondsOf('mariadbd') : 0;
    const cpu0 = await Promise.all(workers.map((w) => w.cpu()));
    const machine0 = machineBusySeconds();
    const procs0 = processTicks();
    const producer0 = process.cpuUsage();
    const runStart = new Date();

    const t0 = now();
    await pushQueue.addBulk(jobs);
    const tEnqueued = now();
    const producerCpu = cpuSeconds(process.cpuUsage(producer0));
    const tReached = await reached;
    const done = await waitForCounts(queue, baseline, jobs.length, 120_000);
    const cpu1 = await Promise.all(workers.map((w) => w.cpu()));
    const machine1 = machineBusySeconds();
    const procs1 = processTicks();
    const redis1 = await redisCpuSeconds(redis!);
    const commands1 = await redisCommandStats(redis!);
    const maria1 = ctx.databaseKind === 'mysql' ? cpuSecondsOf('mariadbd') : 0;
    const stats = await service.stats();
    const parentCpu = cpuSeconds(process.cpuUsage(producer0));

    const perProcess = cpu0.map((c, i) => cpuDelta(c.cpu, cpu1[i]!.cpu));
    const threadSplit = splitThreads(cpu0, cpu1, count);
    const heapKbPerMessage = cpu1.reduce((sum, a, i) => sum + a.heapAllocated - cpu0[i]!.heapAllocated, 0) / 1024 / count;
    const workerCpu = perProcess.reduce((a, b) => a + b, 0);
    const doneSeconds = (done.at - t0) / 1000;
    const reachedSeconds = (tReached - t0) / 1000;
    const dbUpdated = await ctx.database.dataSource
      .getRepository(PushSubscriptionEntity)
      .count({ where: { package: PKG, lastSuccessAt: MoreThanOrEqual(runStart) } });

    const result: SystemResult = {
      label,
      processes,
      messages: count,
      database: ctx.databaseKind,
      enqueueSeconds: (tEnqueued - t0) / 1000,
      firstRequestSeconds: (stats.firstAt - t0) / 1000,
      reachedSeconds,
      doneSeconds,
      rate: count / reachedSeconds,
      workerCpuSeconds: workerCpu,
      workerCpuPerProcess: perProcess,
      threadSplit,
      heapKbPerMessage,
      workerCoresBusy: workerCpu / doneSeconds,
      usPerMessage: (workerCpu * 1e6) / count,
      perWorkerCore: count / workerCpu,
      redisCpuSeconds: redis1 - redis0,
      mariadbCpuSeconds: ctx.databaseKind === 'mysql' ? maria1 - maria0 : null,
      pushServiceCpuSeconds: cpuDelta(svc0.cpu, stats.cpu),
      producerCpuSeconds: producerCpu,
      machineBusyCores: (machine1 - machine0) / doneSeconds,
      otherCores: Math.max(
        0,
        (machine1 - machine0 - workerCpu - (redis1 - redis0) - (maria1 - maria0) - cpuDelta(svc0.cpu, stats.cpu) - parentCpu) /
        doneSeconds,
      ),
      otherProcesses: otherProcesses(
        procs0,
        procs1,
        new Set([process.pid, service.child.pid!, ...workers.map((w) => w.child.pid!), redisPid]),
        doneSeconds,
      ),
      received: stats.received,
      distinct: stats.distinct,
      completed: done.completed,
      failed: done.failed,
      dbUpdated,
      problems: [],
      verified: verifySamples(stats, subscribers, service.origin, eventId),
      redisCommands: [...commands1.entries()]
        .map(([name, c]) => {
          const before = commands0.get(name) ?? { calls: 0, usec: 0 };
          return { name, callsPerMessage: (c.calls - before.calls) / count, usecPerMessage: (c.usec - before.usec) / count };
        })
        .filter((c) => c.callsPerMessage >= 0.05)
        .sort((x, y) => y.usecPerMessage - x.usecPerMessage),
    };
    for (const w of workers) await w.stop();
    for (const w of workers) {
      const p = w.problems();
      if (p.count) result.problems.push(`${p.count} warning(s)/error(s) logged, e.g. ${p.first.join(' | ')}`);
    }
    if (profileDir) {
      const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
      if (file) result.profile = summariseProfile(join(profileDir, file), cpu0[0]!.mono, cpu1[0]!.mono, ROOT);
      if (file && opts['keep-profile']) {
        copyFileSync(join(profileDir, file), opts['keep-profile']);
        note(`profile kept as ${opts['keep-profile']} (measured window: monotonic µs ${cpu0[0]!.mono}–${cpu1[0]!.mono})`);
      }
      if (!file) result.problems.push('no .cpuprofile was written');
    }
    return result;
  } finally {
    for (const w of workers) if (w.child.exitCode === null) await w.stop();
  }
}

// ------------------------------------------------------------------------------------------------
// Report

const f0 = (n: number) => Math.round(n).toLocaleString('en-US');
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const pct = (n: number) => `${Math.round(n * 100)}%`;

function render(
  a: CryptoResult,
  steps: { name: string; us: number }[],
  systemSteps: { name: string; cpuUs: number; wallUs: number }[],
  b: LoopResult,
  c1Runs: BracketedRun[],
  c2Runs: SystemResult[],
  prof: SystemResult | undefined,
  setup: {
    keygenSeconds: number;
    dbLoadSeconds: number;
    idleLoadCores: number;
    code: string;
    redisVersion: string;
    totalSeconds: number;
  },
): string {
  const lines: string[] = [];
  const cpus = os.cpus();
  const perCore = (r: BracketedRun) => r.c.perWorkerCore / r.a.perCore;
  const perCoreRatios = c1Runs.map(perCore);
  // The run in the middle by per-core ratio speaks for the Redis command counts.
  const middle = [...c1Runs].sort((x, y) => perCore(x) - perCore(y))[Math.floor((c1Runs.length - 1) / 2)]!;
  const runName = (c: SystemResult) => {
    const run = /-(\d+)$/.exec(c.label)?.[1];
    const kind = `${c.processes} worker process${c.processes > 1 ? 'es' : ''}, ${c.database}`;
    return c === prof ? `profiled (--cpu-prof), 1 process, ${f0(c.messages)} messages` : `${kind}${run ? `, run ${run} of ${REPEATS}` : ''}`;
  };
  const allRuns = [...c1Runs.map((r) => r.c), ...c2Runs, ...(prof ? [prof] : [])];
  lines.push(`Run ${new Date().toISOString()} — \`npm run bench:push\` (\`node ${process.execArgv.join(' ')} bench/push.ts${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}\`)`);
  lines.push('');
  lines.push(`- Machine: ${os.availableParallelism()} cores (\`nproc\`), ${cpus[0]?.model ?? '?'}, ${f0(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}`);
  lines.push(`- Node ${process.version}, OpenSSL ${process.versions.openssl}, V8 ${process.versions.v8}; (a), (b) and the workers all run with the worker's Node flags: ${PUSH_WORKER_NODE_FLAGS.join(' ')}`);
  lines.push(`- Code measured: ${setup.code}`);
  lines.push(`- Packages: ${['web-push', 'bullmq', 'ioredis', 'typeorm', 'better-sqlite3', 'undici', 'pino', 'zod'].map((p) => `${p} ${packageVersion(p)}`).join(', ')}; Redis ${setup.redisVersion}`);
  lines.push(`- Load from other processes on the machine: ${f2(Math.max(0, setup.idleLoadCores))} cores just before the run; per benchmark in the "other load" figures below (machine busy time from /proc/stat minus the CPU of this benchmark's own processes and Redis/MariaDB). Anything well above 0 means the run shared its cores and the figures are pessimistic.`);
  lines.push(`- ${f0(N)} messages per benchmark, concurrency ${CONCURRENCY}, worker LOG_LEVEL=${LOG_LEVEL}, ${f0(WARM_UP_PER_PROCESS)} warm-up messages per worker process and ${f0(Math.min(B_WARM_UP, N))} for (b), push service: node:net in its own process, plain HTTP on 127.0.0.1, answers 201; (b) reaches it over HTTP/1.1, the workers ${HTTP2 === 'always' ? 'over HTTP/2 with prior knowledge (`PUSH_HTTP2=always`: what the default `auto` gives a push service over TLS that offers h2)' : 'over HTTP/1.1 (`PUSH_HTTP2=off`)'}`);
  lines.push(`- Whole benchmark: ${f0(setup.totalSeconds)} s`);
  lines.push(`- Setup (not measured): ${f0(N)} browser key pairs in ${f1(setup.keygenSeconds)} s; ${f0(N)} \`upsert\`s into ${middle.c.database} in ${f1(setup.dbLoadSeconds)} s (${f0((setup.dbLoadSeconds * 1e6) / N)} µs each)`);
  lines.push('');
  lines.push('| benchmark | messages/s (wall) | CPU s (sender) | µs CPU / message | messages per CPU-second | checks |');
  lines.push('|---|---:|---:|---:|---:|---|');
  lines.push(`| (a) encryptPayload + cached VAPID header, 1 core | ${f0(a.messages / a.wallSeconds)} | ${f2(a.cpuSeconds)} | ${f0(a.usPerMessage)} | **${f0(a.perCore)}** | ${f0(a.messages)} messages in ${f2(a.wallSeconds)} s; other load ${f2(a.otherCores)} cores |`);
  lines.push(`| (b) web-push 3.6.7 sendNotification, c=${CONCURRENCY} | **${f0(b.rate)}** | ${f2(b.cpuSeconds)} | ${f0((b.cpuSeconds * 1e6) / N)} | ${f0(N / b.cpuSeconds)} | ${b.failures} failures, ${f0(b.distinct)} distinct of ${f0(b.received)} received; samples decrypt+VAPID: ${b.verified}; push service ${f0((b.pushServiceCpuSeconds * 1e6) / N)} µs/msg; other load ${f2(b.otherCores)} cores |`);
  for (const c of allRuns) {
    const perProc = c.processes > 1 ? ` (${c.workerCpuPerProcess.map(f2).join(' + ')})` : '';
    const around = c1Runs.find((r) => r.c === c)?.a;
    const aroundNote = around ? `; (a) around this run: ${f0(around.usPerMessage)} µs/msg, ${f0(around.perCore)} per CPU-second` : '';
    lines.push(`| (c) ${runName(c)} | **${f0(c.rate)}** | ${f2(c.workerCpuSeconds)}${perProc} | ${f0(c.usPerMessage)} | ${f0(c.perWorkerCore)} | ${f0(c.completed + c.failed)} jobs of ≤ ${MAX_USERS_PER_PUSH_JOB} users, ${c.failed} failed, ${f0(c.distinct)} distinct of ${f0(c.received)} received, ${f0(c.dbUpdated)} rows with new last_success_at; samples: ${c.verified}${aroundNote}${c.problems.length ? `; ${c.problems.join('; ')}` : ''} |`);
  }
  const each = (values: number[], show: (v: number) => string) => values.map(show).join(', ');
  const oneVsB = c1Runs.map((r) => r.c.rate / b.rate);
  const twoVsB = c2Runs.map((c) => c.rate / b.rate);
  lines.push('');
  lines.push(`Ratios (targets from issue 3), per run and their median (the 1-process runs against the (a) measured just before and after each of them):`);
  lines.push('');
  lines.push(`- (c) per worker core vs (a): ${each(perCoreRatios, pct)}: median **${pct(median(perCoreRatios))}** (target ≥ 75%); against the (a) at the start of the benchmark instead: 1 process ${each(c1Runs.map((r) => r.c.perWorkerCore / a.perCore), pct)}, 2 processes ${each(c2Runs.map((c) => c.perWorkerCore / a.perCore), pct)}`);
  lines.push(`- (c) 1 process vs (b): ${each(oneVsB, (v) => `${f2(v)}×`)}: median **${f2(median(oneVsB))}×** (target ≥ 3×)`);
  if (c2Runs.length) lines.push(`- (c) 2 processes vs (b): ${each(twoVsB, (v) => `${f2(v)}×`)}: median **${f2(median(twoVsB))}×** (target ≥ 5×)`);
  lines.push('');
  lines.push('Timeline and CPU of each (c) run (t = 0 when `addBulk` of the event\'s jobs is called; rate = messages / time to the last distinct request):');
  lines.push('');
  lines.push('| run | addBulk done | first request | last request | all jobs completed | worker cores busy | worker µs/msg | of which main thread user / system, other threads | worker JS heap KB allocated/msg | Redis µs/msg | MariaDB µs/msg | push service µs/msg | machine cores busy | other load (cores) | busiest other processes (cores) |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const c of allRuns) {
    lines.push(
      `| ${runName(c)} | ${f2(c.enqueueSeconds)} s | ${f2(c.firstRequestSeconds)} s | ${f2(c.reachedSeconds)} s | ${f2(c.doneSeconds)} s | ${f2(c.workerCoresBusy)} | ${f0(c.usPerMessage)} | ${c.threadSplit ? `${f0(c.threadSplit.mainUser)} / ${f0(c.threadSplit.mainSystem)}, ${f0(c.threadSplit.others)}` : '—'} | ${f1(c.heapKbPerMessage)} | ${f0((c.redisCpuSeconds * 1e6) / c.messages)} | ${c.mariadbCpuSeconds === null ? '—' : f0((c.mariadbCpuSeconds * 1e6) / c.messages)} | ${f0((c.pushServiceCpuSeconds * 1e6) / c.messages)} | ${f2(c.machineBusyCores)} | ${f2(c.otherCores)} | ${c.otherProcesses} |`,
    );
  }
  lines.push('');
  lines.push(
    `Redis commands per message in the median 1-process run (INFO commandstats of the shared server, so other users of it add noise; commands run inside BullMQ's Lua scripts are counted too): ${middle.c.redisCommands
      .slice(0, 12)
      .map((c) => `${c.name} ${f1(c.callsPerMessage)}× / ${f0(c.usecPerMessage)} µs`)
      .join('; ')}.`,
  );
  lines.push('');
  lines.push(`Worker steps outside (a), µs of CPU per call in a tight loop (the real path runs each once per message, except those marked once per job): ${steps.map((s) => `${s.name} ${f1(s.us)}`).join('; ')}.`);
  lines.push('');
  lines.push(`Database and Redis-client steps of the worker, µs per call (CPU / wall; those marked once per job run once for up to ${MAX_USERS_PER_PUSH_JOB} users, the 1-user and 1-key calls are what a job of one user cost): ${systemSteps.map((s) => `${s.name} ${f0(s.cpuUs)} / ${f0(s.wallUs)}`).join('; ')}.`);
  if (prof?.profile) {
    const p = prof.profile;
    const total = p.busyUs;
    const perMsg = (us: number) => f0(us / prof.messages);
    lines.push('');
    lines.push(`Where the worker's time goes (profiled 1-process run, ${f0(total / 1000)} ms of samples on the main thread with JS or native work in the measured window, ${f0(p.idleUs / 1000)} ms idle; the profiler samples wall time, so time blocked in a synchronous call such as an SQLite fsync counts as busy):`);
    lines.push('');
    lines.push('| area of work (inclusive; areas overlap where one calls another) | share | µs / message |');
    lines.push('|---|---:|---:|');
    for (const row of p.areas) lines.push(`| ${row.name} | ${pct(row.us / total)} | ${perMsg(row.us)} |`);
    const gc = p.self.find((r) => r.name === 'V8 garbage collector');
    if (gc) lines.push(`| V8 garbage collector (main thread) | ${pct(gc.us / total)} | ${perMsg(gc.us)} |`);
    lines.push('');
    lines.push('| self time, by what was running | share | µs / message |');
    lines.push('|---|---:|---:|');
    for (const row of p.self.slice(0, 14)) lines.push(`| ${row.name} | ${pct(row.us / total)} | ${perMsg(row.us)} |`);
    lines.push('');
    lines.push('| inclusive time (anywhere on the synchronous stack) | share | µs / message |');
    lines.push('|---|---:|---:|');
    for (const row of p.inclusivePackages.slice(0, 10)) lines.push(`| package ${row.name} | ${pct(row.us / total)} | ${perMsg(row.us)} |`);
    for (const row of p.inclusiveFunctions.slice(0, 14)) lines.push(`| ${row.name} | ${pct(row.us / total)} | ${perMsg(row.us)} |`);
  }
  return lines.join('\n');
}

// ------------------------------------------------------------------------------------------------

/** The workers' CPU by thread (`threadCpuSeconds`), µs per message, summed over the processes. */
function splitThreads(before: WorkerCpu[], after: WorkerCpu[], messages: number): ThreadCpu | null {
  const sum: ThreadCpu = { mainUser: 0, mainSystem: 0, others: 0 };
  for (const [i, b] of before.entries()) {
    const a = after[i]!.threads;
    if (!b.threads || !a) return null;
    for (const part of ['mainUser', 'mainSystem', 'others'] as const) sum[part] += ((a[part] - b.threads[part]) * 1e6) / messages;
  }
  return sum;
}

async function main(): Promise<void> {
  const runStarted = now();
  const code = codeFingerprint();
  const buildSeconds = buildDist();
  note(`built dist/ in ${f1(buildSeconds)} s`);
  const idleLoadCores = await idleLoad(1000);
  if (idleLoadCores > 0.2) note(`other processes keep ${f2(idleLoadCores)} cores busy: figures will be pessimistic`);
  tmp = mkdtempSync(join(os.tmpdir(), 'axion-bench-'));
  queuePrefix = `bench-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const service = await PushService.start();
  note(`push service at ${service.origin} (pid ${service.child.pid}); temp dir ${tmp}`);

  let t = now();
  const subscribers: Subscriber[] = Array.from({ length: N }, (_, i) => {
    const keys = createBrowserKeys();
    return { user: `bench-user-${i}`, keys, p256dh: Buffer.from(keys.p256dh, 'base64url'), auth: Buffer.from(keys.auth, 'base64url') };
  });
  const keygenSeconds = (now() - t) / 1000;

  // (a)
  const vapidForLoops = generateVapidKeyPair();
  const a = benchCrypto(subscribers, service.origin, vapidForLoops);
  note(`(a) ${f0(a.perCore)} messages per CPU-second (${f0(a.usPerMessage)} µs/message)`);
  const steps = await benchSteps(subscribers, service.origin);

  // (b)
  const b = await benchWebPush(service, subscribers, vapidForLoops);
  note(`(b) ${f0(b.rate)} messages/s, ${f2(b.cpuSeconds)} CPU s`);

  // (c): subscriptions in SQLite, jobs in BullMQ, the real worker
  const databaseUrl = `sqlite:${join(tmp, 'bench.sqlite')}`;
  const database = await startDatabase({ url: databaseUrl }, log);
  databases.push({ db: database });
  const vapidKey: VapidKey = await createVapidKeyStore(database.dataSource).current(PKG);
  const store = createSubscriptionStore(database.dataSource);
  // Setup only: no fsync per upsert on the loader's own connection (the workers keep SQLite's
  // default, FULL, on theirs).
  await database.dataSource.query('PRAGMA synchronous = NORMAL');
  t = now();
  for (let i = 0; i < N; i++) {
    const s = subscribers[i]!;
    await store.upsert({
      user: s.user,
      package: PKG,
      endpoint: endpointOf(service.origin, i),
      p256dh: s.keys.p256dh,
      auth: s.keys.auth,
      module: null,
      userAgent: 'bench',
      expirationTime: null,
      vapidKeyId: vapidKey.id,
    });
  }
  const dbLoadSeconds = (now() - t) / 1000;
  await database.dataSource.query('PRAGMA synchronous = FULL');
  note(`loaded ${f0(N)} subscriptions into SQLite in ${f1(dbLoadSeconds)} s`);

  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const pushQueue = createPushQueue({ connection: redis, log, prefix: queuePrefix });
  const queue = new Queue(QUEUE_NAMES.push, { connection: redis, prefix: queuePrefix });
  const sqliteCtx: SystemContext = { service, subscribers, pushQueue, queue, database, databaseUrl, databaseKind: 'sqlite' };

  await queue.waitUntilReady();
  const systemSteps = await benchSystemSteps(store, subscribers, service.origin, redis);
  const redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? '?';
  let c2Ctx = sqliteCtx;
  if (DB2 === 'mysql') {
    const testDb = await createTestDatabase('mysql');
    const mysql = await startDatabase(testDb.config, log);
    databases.push({ db: mysql, drop: testDb });
    const key = await createVapidKeyStore(mysql.dataSource).current(PKG);
    const mstore = createSubscriptionStore(mysql.dataSource);
    for (let i = 0; i < N; i++) {
      const s = subscribers[i]!;
      await mstore.upsert({ user: s.user, package: PKG, endpoint: endpointOf(service.origin, i), p256dh: s.keys.p256dh, auth: s.keys.auth, module: null, userAgent: 'bench', expirationTime: null, vapidKeyId: key.id });
    }
    c2Ctx = { ...sqliteCtx, database: mysql, databaseUrl: testDb.config.url, databaseKind: 'mysql' };
  }
  const c1Runs: BracketedRun[] = [];
  const c2Runs: SystemResult[] = [];
  for (let r = 1; r <= REPEATS; r++) {
    const before = benchCrypto(subscribers, service.origin, vapidForLoops, A_BRACKET_SECONDS);
    const c = await runSystem(sqliteCtx, `c1-${r}`, 1, false);
    const after = benchCrypto(subscribers, service.origin, vapidForLoops, A_BRACKET_SECONDS);
    const around = joinCrypto(before, after);
    c1Runs.push({ c, a: around });
    note(`(c) 1 process, run ${r}: ${f0(c.rate)} messages/s, ${f0(c.usPerMessage)} µs CPU/message; (a) around it ${f0(around.usPerMessage)} µs (${f0(before.usPerMessage)} before, ${f0(after.usPerMessage)} after)`);
    const c2 = await runSystem(c2Ctx, `c2-${r}`, 2, false);
    c2Runs.push(c2);
    note(`(c) 2 processes, run ${r}: ${f0(c2.rate)} messages/s, ${f0(c2.usPerMessage)} µs CPU/message`);
  }

  let prof: SystemResult | undefined;
  if (!opts['no-profile']) {
    // Half the users: enough samples for shares, and the whole run stays within ~3 minutes.
    prof = await runSystem(sqliteCtx, 'prof', 1, true, Math.ceil(N / 2));
    note(`(c) profiled: ${f0(prof.rate)} messages/s`);
  }

  await pushQueue.close();
  await queue.close();
  const totalSeconds = (now() - runStarted) / 1000;
  const section = render(a, steps, systemSteps, b, c1Runs, c2Runs, prof, { keygenSeconds, dbLoadSeconds, idleLoadCores, code, redisVersion, totalSeconds });
  process.stdout.write(`\n${section}\n\n`);
  if (!opts['no-write']) {
    writePerformanceBlock('push', section);
    note('results written to docs/performance.md');
  }
}

// Set when a signal or the deadline is cleaning up: the main flow then fails as its children
// vanish, which is expected and not worth a stack trace.
let aborting = false;
const deadline = setTimeout(() => {
  aborting = true;
  note(`still running after ${OVERALL_DEADLINE_MS / 1000} s: giving up`);
  cleanup().finally(() => process.exit(1));
}, OVERALL_DEADLINE_MS);
deadline.unref();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    aborting = true;
    note(`${signal}: cleaning up`);
    cleanup().finally(() => process.exit(130));
  });
}

try {
  await main();
  await cleanup();
  clearTimeout(deadline);
} catch (err) {
  if (!aborting) process.stderr.write(`[bench] failed: ${(err as Error).stack ?? String(err)}\n`);
  await cleanup();
  process.exitCode = 1;
}
