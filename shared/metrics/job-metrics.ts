import { UnrecoverableError } from 'bullmq';
import { Counter } from 'prom-client';
import type { MetricsRegistry } from './create-metrics-registry.js';

/** What became of one attempt of a job. */
export type JobOutcome = 'completed' | 'retried' | 'failed';

/** The part of a BullMQ `Worker` that reports outcomes. */
export interface JobEvents {
  readonly name: string;
  on(event: 'completed', listener: () => void): unknown;
  on(
    event: 'failed',
    listener: (job: { attemptsMade: number; opts: { attempts?: number } } | undefined, err: Error) => void,
  ): unknown;
}

const NAME = 'axion_push_jobs_total';

/**
 * Counts `axion_push_jobs_total{queue,outcome}` for a worker: `completed`, `retried` (an attempt
 * failed and another is scheduled) and `failed` (given up for good). Several workers of one
 * process (the all-in-one) share the counter: it is looked up before it is made.
 */
export function countJobOutcomes(registry: MetricsRegistry, worker: JobEvents): void {
  const jobs =
    (registry.getSingleMetric(NAME) as Counter<'queue' | 'outcome'> | undefined) ??
    new Counter({
      name: NAME,
      help: 'Job attempts by queue and outcome: completed, retried, or failed for good.',
      labelNames: ['queue', 'outcome'] as const,
      registers: [registry],
    });
  const count = (outcome: JobOutcome) => jobs.inc({ queue: worker.name, outcome });
  worker.on('completed', () => count('completed'));
  worker.on('failed', (job, err) => {
    // An UnrecoverableError (the push-worker's "gave up" too) is never retried, attempts left or not.
    const final = !job || err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
    count(final ? 'failed' : 'retried');
  });
}
