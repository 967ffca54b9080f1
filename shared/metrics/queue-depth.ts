import { Gauge } from 'prom-client';
import type { MetricsRegistry } from './create-metrics-registry.js';
import { withDeadline } from '../lifecycle/with-deadline.js';

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

const NAME = 'axion_push_queue_jobs';

/** The gauge with the queues it counts; other parts of the same process add theirs to it. */
class QueueDepthGauge extends Gauge<'queue' | 'state'> {
  readonly sources: QueueDepthSource[] = [];

  add(queues: readonly QueueDepthSource[]): void {
    for (const queue of queues) {
      if (!this.sources.some((known) => known.name === queue.name)) this.sources.push(queue);
    }
  }
}

/**
 * Adds the gauge `axion_push_queue_jobs{queue,state}`, read from the queues at each scrape.
 * A queue that cannot be counted (Redis down or slow) has no series in that scrape, rather
 * than a stale or zero value; the Redis connection logs the outage itself. Called again on the
 * same registry (the all-in-one: API, router and worker each count their queues), it adds the
 * queues not counted yet.
 */
export function registerQueueDepth(
  registry: MetricsRegistry,
  queues: readonly QueueDepthSource[],
  options: { timeoutMs?: number } = {},
): void {
  const existing = registry.getSingleMetric(NAME);
  if (existing instanceof QueueDepthGauge) {
    existing.add(queues);
    return;
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_COUNT_TIMEOUT_MS;
  const gauge: QueueDepthGauge = new QueueDepthGauge({
    name: NAME,
    help: 'Jobs in each queue by state, counted at scrape time.',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      const sources = [...gauge.sources];
      const results = await Promise.allSettled(
        sources.map((queue) => withDeadline(queue.counts(), timeoutMs)),
      );
      gauge.reset();
      results.forEach((result, i) => {
        if (result.status !== 'fulfilled') return;
        for (const [state, count] of Object.entries(result.value)) {
          gauge.set({ queue: sources[i]!.name, state }, count);
        }
      });
    },
  });
  gauge.add(queues);
}
