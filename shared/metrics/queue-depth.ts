import { Gauge } from 'prom-client';
import type { MetricsRegistry } from './create-metrics-registry.js';

/** A queue whose jobs can be counted by state (see `queueDepthSource` for BullMQ). */
export interface QueueDepthSource {
  name: string;
  counts(): Promise<Record<string, number>>;
}

/** The states reported: what is waiting, running, waiting for a retry or given up on. */
export const QUEUE_DEPTH_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

/** A scrape should not wait long on Redis: process metrics are worth having while it is down. */
const DEFAULT_COUNT_TIMEOUT_MS = 2_000;

/** Adapts a BullMQ `Queue` (anything with `name` and `getJobCounts`). */
export function queueDepthSource(queue: {
  name: string;
  getJobCounts(...states: string[]): Promise<Record<string, number>>;
}): QueueDepthSource {
  return { name: queue.name, counts: () => queue.getJobCounts(...QUEUE_DEPTH_STATES) };
}

/**
 * Adds the gauge `axion_push_queue_jobs{queue,state}`, read from the queues at each scrape.
 * A queue that cannot be counted (Redis down or slow) has no series in that scrape, rather
 * than a stale or zero value; the Redis connection logs the outage itself.
 */
export function registerQueueDepth(
  registry: MetricsRegistry,
  queues: readonly QueueDepthSource[],
  options: { timeoutMs?: number } = {},
): void {
  const timeoutMs = options.timeoutMs ?? DEFAULT_COUNT_TIMEOUT_MS;
  new Gauge({
    name: 'axion_push_queue_jobs',
    help: 'Jobs in each queue by state, counted at scrape time.',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      const results = await Promise.allSettled(
        queues.map((queue) => withDeadline(queue.counts(), timeoutMs)),
      );
      this.reset();
      results.forEach((result, i) => {
        if (result.status !== 'fulfilled') return;
        for (const [state, count] of Object.entries(result.value)) {
          this.set({ queue: queues[i]!.name, state }, count);
        }
      });
    },
  });
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
