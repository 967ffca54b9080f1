import { requireSetting } from '../../shared/config/index.js';
import { startDatabase } from '../../shared/database/index.js';
import { runProcess } from '../../shared/lifecycle/index.js';
import { createMetricsRegistry, startMetricsServerWhenSet } from '../../shared/metrics/index.js';
import { startPushWorker } from './start-push-worker.js';

await runProcess('push-worker', async ({ config, log, started }) => {
  const redisUrl = requireSetting(config.redis.url, 'REDIS_URL', 'the worker takes jobs from the shared Redis');
  const database = await startDatabase(config.database, log);
  started.push(database);
  const metrics = createMetricsRegistry();
  const worker = await startPushWorker({
    push: config.push,
    redis: { ...config.redis, url: redisUrl },
    dataSource: database.dataSource,
    log,
    metrics,
  });
  started.push(worker);
  started.push(...(await startMetricsServerWhenSet(config.http, { registry: metrics, log, checks: worker.readiness })));
});
