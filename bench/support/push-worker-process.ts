/**
 * One push-worker process for the benchmark: the real `startDatabase` + `startPushWorker` from
 * the compiled `dist/`, started the way `services/push-worker/main.ts` starts them, but
 * configured over IPC and able to report its own `process.cpuUsage()` so the parent can charge
 * CPU to the worker alone.
 *
 * parent → child: { type: 'start', settings } | { type: 'cpu' } | { type: 'stop' }
 * child → parent: { type: 'ready' } | { type: 'cpu', cpu, threads, heapAllocated, elu, mono } | { type: 'stopped' } | { type: 'error', message }
 *
 * Logs go to stdout as in production (JSON lines, LOG_LEVEL default `info`); the parent points
 * stdout at a file and scans it afterwards for warnings.
 */
import { performance } from 'node:perf_hooks';
import { GCProfiler, getHeapStatistics } from 'node:v8';
import type { PushConfig } from '../../shared/config/index.js';
import type { Database } from '../../shared/database/index.js';
import type { Service } from '../../shared/lifecycle/index.js';
import { threadCpuSeconds } from './proc-stats.js';

// The compiled build (the parent runs `npm run build` first), as production runs it: the
// sources through tsx would measure tsx's output, not what `npm run start:push-worker` runs.
const dist = (path: string) => new URL(`../../dist/${path}`, import.meta.url).href;
const { loadConfig } = (await import(dist('shared/config/index.js'))) as typeof import('../../shared/config/index.js');
const { startDatabase } = (await import(dist('shared/database/index.js'))) as typeof import('../../shared/database/index.js');
const { createLogger } = (await import(dist('shared/logging/index.js'))) as typeof import('../../shared/logging/index.js');
const { startPushWorker } = (await import(
  dist('services/push-worker/start-push-worker.js')
)) as typeof import('../../services/push-worker/start-push-worker.js');

export interface WorkerSettings {
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  concurrency: number;
  logLevel: string;
  vapidSubject: string;
  timeoutMs: number;
  maxAttempts: number;
  http2: 'always' | 'off';
  name: string;
}

/**
 * Bytes allocated on the JS heap since the process started, approximately: what the used heap
 * grew by between garbage collections (V8's GC statistics), plus its growth since the last one.
 * Unlike CPU time it hardly moves with the machine's speed, so it shows the send path's garbage
 * from run to run.
 */
function createHeapAllocationCounter(): () => number {
  let profiler = new GCProfiler();
  profiler.start();
  let allocated = 0;
  let usedAfterLast = getHeapStatistics().used_heap_size;
  return () => {
    for (const gc of profiler.stop().statistics) {
      allocated += Math.max(0, gc.beforeGC.heapStatistics.usedHeapSize - usedAfterLast);
      usedAfterLast = gc.afterGC.heapStatistics.usedHeapSize;
    }
    const used = getHeapStatistics().used_heap_size;
    allocated += Math.max(0, used - usedAfterLast);
    usedAfterLast = used;
    profiler = new GCProfiler();
    profiler.start();
    return allocated;
  };
}
const heapAllocated = createHeapAllocationCounter();

let database: Database | undefined;
let worker: Service | undefined;

async function start(settings: WorkerSettings): Promise<void> {
  const log = createLogger({ level: settings.logLevel, name: settings.name });
  database = await startDatabase({ url: settings.databaseUrl }, log);
  // The project's own defaults for every push setting (the config grows), then the benchmark's:
  // PUSH_ALLOW_INSECURE_LOOPBACK=true with an empty allow-list, so only the local push service.
  const defaults = loadConfig({
    VAPID_SUBJECT: settings.vapidSubject,
    PUSH_CONCURRENCY: String(settings.concurrency),
    PUSH_TIMEOUT_MS: String(settings.timeoutMs),
    PUSH_MAX_ATTEMPTS: String(settings.maxAttempts),
    PUSH_ALLOW_INSECURE_LOOPBACK: 'true',
    PUSH_HTTP2: settings.http2,
  });
  const push: PushConfig = {
    ...defaults.push,
    endpointPolicy: { allowedHosts: [], allowInsecureLoopback: true },
  };
  worker = await startPushWorker({
    push,
    redis: { url: settings.redisUrl, queuePrefix: settings.queuePrefix },
    dataSource: database.dataSource,
    log,
  });
}

let stopping: Promise<void> | undefined;
function stop(): Promise<void> {
  stopping ??= (async () => {
    await worker?.close();
    await database?.close();
  })();
  return stopping;
}

process.on('message', (msg: { type: string; settings?: WorkerSettings }) => {
  if (msg.type === 'start' && msg.settings) {
    start(msg.settings).then(
      () => process.send?.({ type: 'ready' }),
      (err: Error) => process.send?.({ type: 'error', message: err.stack ?? err.message }),
    );
  } else if (msg.type === 'cpu') {
    process.send?.({
      type: 'cpu',
      cpu: process.cpuUsage(),
      threads: threadCpuSeconds(process.pid),
      heapAllocated: heapAllocated(),
      elu: performance.eventLoopUtilization(),
      // CLOCK_MONOTONIC µs: the clock of the sample timestamps in a --cpu-prof profile.
      mono: Number(process.hrtime.bigint() / 1000n),
    });
  } else if (msg.type === 'stop') {
    stop().then(
      () => {
        process.send?.({ type: 'stopped' });
        // Leaving on our own lets --cpu-prof write its profile.
        process.disconnect();
        setTimeout(() => process.exit(0), 200).unref();
      },
      (err: Error) => {
        process.send?.({ type: 'error', message: err.stack ?? err.message });
        process.exit(1);
      },
    );
  }
});
// The parent going away must not leave a worker behind.
process.on('disconnect', () => {
  setTimeout(() => process.exit(0), 2_000).unref();
  stop().finally(() => process.exit(0));
});
process.send?.({ type: 'spawned' });

