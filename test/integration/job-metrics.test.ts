import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { expect } from 'chai';
import {
  countJobOutcomes,
  createMetricsRegistry,
  queueDepthSource,
  registerQueueDepth,
  type MetricsRegistry,
  type QueueDepthSource,
} from '../../shared/metrics/index.js';
import { redisPerTest } from '../support/queues.js';
import { TEST_REDIS_URL } from '../support/test-databases.js';

/** The registry's text once `done` holds for it (the workers report after each job ends). */
async function metricsWhen(registry: MetricsRegistry, done: (text: string) => boolean, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await registry.metrics();
    if (done(text) || Date.now() > deadline) return text;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('countJobOutcomes on BullMQ workers', function () {
  this.timeout(20_000);
  const scope = redisPerTest(TEST_REDIS_URL);

  it('counts completed jobs, attempts that will be retried, and jobs given up on, by queue', async function () {
    const { prefix } = scope;
    const connection = { url: TEST_REDIS_URL };
    const registry = createMetricsRegistry();
    const pushQueue = new Queue('push', { connection, prefix });
    const routeQueue = new Queue('route', { connection, prefix });
    const push = new Worker(
      'push',
      async (job) => {
        if (job.data.kind === 'flaky' && job.attemptsMade === 0) throw new Error('push service busy');
        if (job.data.kind === 'broken') throw new UnrecoverableError('malformed job');
        if (job.data.kind === 'hopeless') throw new Error('always failing');
      },
      { connection, prefix },
    );
    // A second worker of the same process (the all-in-one) adds to the same counter.
    const route = new Worker('route', async () => undefined, { connection, prefix });
    for (const worker of [push, route]) {
      worker.on('error', () => undefined);
      countJobOutcomes(registry, worker);
    }
    try {
      await pushQueue.addBulk([
        { name: 'p', data: { kind: 'fine' } },
        { name: 'p', data: { kind: 'flaky' }, opts: { attempts: 3 } },
        { name: 'p', data: { kind: 'broken' }, opts: { attempts: 3 } },
        { name: 'p', data: { kind: 'hopeless' }, opts: { attempts: 2 } },
      ]);
      await routeQueue.add('r', {});

      const text = await metricsWhen(
        registry,
        (t) => t.includes('queue="push",outcome="completed"} 2') && t.includes('queue="push",outcome="failed"} 2'),
      );

      expect(text).to.include('axion_push_jobs_total{queue="push",outcome="completed"} 2');
      expect(text).to.include('axion_push_jobs_total{queue="push",outcome="retried"} 2');
      expect(text).to.include('axion_push_jobs_total{queue="push",outcome="failed"} 2');
      expect(text).to.include('axion_push_jobs_total{queue="route",outcome="completed"} 1');
    } finally {
      await Promise.all([push.close(), route.close(), pushQueue.close(), routeQueue.close()]);
    }
  });
});

describe('registerQueueDepth from several parts of one process', function () {
  const scope = redisPerTest(TEST_REDIS_URL);

  /** A real queue's depth source that counts how often a scrape asks it. */
  function counted(queue: Queue): QueueDepthSource & { calls: number } {
    const source = queueDepthSource(queue);
    const counting = {
      name: source.name,
      calls: 0,
      counts: () => {
        counting.calls += 1;
        return source.counts();
      },
    };
    return counting;
  }

  it('counts each queue once per scrape, however many parts register it', async function () {
    const { prefix } = scope;
    const [route, push] = ['route', 'push'].map((name) => new Queue(name, { connection: scope.redis, prefix }));
    try {
      await push!.addBulk([1, 2, 3].map((n) => ({ name: 'p', data: { n } })));
      const registry = createMetricsRegistry();
      // The all-in-one: the API counts both, the router its own, the worker its own; each part
      // adapts the queue itself, so the sources are different objects for one queue.
      const sources = [counted(route!), counted(push!), counted(route!), counted(push!)];
      registerQueueDepth(registry, [sources[0]!, sources[1]!]);
      registerQueueDepth(registry, [sources[2]!]);
      registerQueueDepth(registry, [sources[3]!]);

      const scrapes = [await registry.metrics(), await registry.metrics()];

      const asked = (name: string) => sources.filter((s) => s.name === name).reduce((n, s) => n + s.calls, 0);
      expect({ route: asked('route'), push: asked('push') }, 'depth reads per queue in two scrapes').to.deep.equal({
        route: 2,
        push: 2,
      });
      for (const text of scrapes) {
        expect(text.match(/^axion_push_queue_jobs\{queue="push",state="waiting"\} .*$/gm)).to.deep.equal([
          'axion_push_queue_jobs{queue="push",state="waiting"} 3',
        ]);
        expect(text.match(/^axion_push_queue_jobs\{queue="route",state="waiting"\} .*$/gm)).to.deep.equal([
          'axion_push_queue_jobs{queue="route",state="waiting"} 0',
        ]);
      }
    } finally {
      await Promise.all([route!.close(), push!.close()]);
    }
  });
});
