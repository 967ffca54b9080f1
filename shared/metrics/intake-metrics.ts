import { Counter } from 'prom-client';
import type { MetricsRegistry } from './create-metrics-registry.js';

export interface IntakeMetrics {
  /** An event taken in (`accepted`) or refused (`code`: invalid_json, too_large, …). */
  observeEvent(source: 'http' | 'mqtt', result: string): void;
}

/** Adds `axion_push_events_total{source,result}`. Call once per registry. */
export function createIntakeMetrics(registry: MetricsRegistry): IntakeMetrics {
  const events = new Counter({
    name: 'axion_push_events_total',
    help: 'Events offered by producers, by intake and result (accepted, or the rejection code).',
    labelNames: ['source', 'result'] as const,
    registers: [registry],
  });
  return {
    observeEvent: (source, result) => events.inc({ source, result }),
  };
}
