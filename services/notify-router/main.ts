import { requireSetting } from '../../shared/config/index.js';
import { startDatabase } from '../../shared/database/index.js';
import { runProcess } from '../../shared/lifecycle/index.js';
import { createMetricsRegistry, startMetricsServerWhenSet } from '../../shared/metrics/index.js';
import { startNotifyRouter } from './start-notify-router.js';

await runProcess('notify-router', async ({ config, log, started }) => {
  const redisUrl = requireSetting(config.redis.url, 'REDIS_URL', 'the router needs the shared Redis');
  const mqttUrl = requireSetting(config.mqtt.url, 'MQTT_URL', 'the router is a client of the broker');
  const database = await startDatabase(config.database, log);
  started.push(database);
  const metrics = createMetricsRegistry();
  const router = await startNotifyRouter({
    mqtt: { ...config.mqtt, url: mqttUrl },
    redis: { ...config.redis, url: redisUrl },
    pushAttempts: config.push.maxAttempts,
    dataSource: database.dataSource,
    inbox: config.inbox,
    log,
    metrics,
  });
  started.push(router);
  started.push(...(await startMetricsServerWhenSet(config.http, { registry: metrics, log, checks: router.readiness })));
});
