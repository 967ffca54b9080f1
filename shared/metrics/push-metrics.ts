import { Counter, Histogram } from 'prom-client';
import type { MetricsRegistry } from './create-metrics-registry.js';
import { createLabelCap } from './label-cap.js';

/** One push request's result, as the push-worker reports it (`onSent`). */
export interface SendSample {
  /** The push service's origin, e.g. `https://fcm.googleapis.com`. */
  origin: string;
  outcome: string;
  seconds: number;
}

export interface PushMetrics {
  observeSend(sample: SendSample): void;
}

/** Distinct push-service origins with their own series; the rest are `other`. */
export const DEFAULT_MAX_ORIGINS = 100;

/**
 * Push services answer in tens to hundreds of milliseconds; the top bucket is the longest
 * total deadline worth setting (PUSH_TIMEOUT_MS), so a request cut short lands in +Inf.
 */
const SEND_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Adds the send counter and latency histogram to `registry`. Call once per registry:
 * prom-client refuses a second metric of the same name. Origins come from subscription
 * endpoints (allow-listed hosts, but e.g. `*.notify.windows.com` has many), so their number
 * is capped at `maxOrigins`.
 */
export function createPushMetrics(
  registry: MetricsRegistry,
  options: { maxOrigins?: number } = {},
): PushMetrics {
  const capOrigin = createLabelCap(options.maxOrigins ?? DEFAULT_MAX_ORIGINS);
  const sends = new Counter({
    name: 'axion_push_sends_total',
    help: 'Web Push requests by push-service origin and outcome.',
    labelNames: ['origin', 'outcome'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'axion_push_send_duration_seconds',
    help: 'Time from sending a Web Push request to its answer (or failure), by origin.',
    labelNames: ['origin'] as const,
    buckets: SEND_SECONDS_BUCKETS,
    registers: [registry],
  });
  return {
    observeSend({ origin, outcome, seconds }) {
      const capped = capOrigin(origin);
      sends.inc({ origin: capped, outcome });
      duration.observe({ origin: capped }, seconds);
    },
  };
}
