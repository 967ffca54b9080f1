import { collectDefaultMetrics, Registry } from 'prom-client';

/** A Prometheus registry; one per process, passed to every part that adds metrics to it. */
export type MetricsRegistry = Registry;

/** What a scrape answers: the text exposition format and its content type. */
export interface MetricsText {
  contentType: string;
  body: string;
}

/**
 * Creates a registry of its own (never prom-client's global one, which would leak series
 * between callers and tests, as module-level state does) with the Node process metrics in it:
 * memory, CPU, event loop lag, GC, handles.
 */
export function createMetricsRegistry(): MetricsRegistry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Collects every metric of the registry (queue depth reads Redis here) as exposition text. */
export async function renderMetrics(registry: MetricsRegistry): Promise<MetricsText> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}
