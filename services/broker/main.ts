import { requireSetting, requireUserAuth } from '../../shared/config/index.js';
import { runProcess } from '../../shared/lifecycle/index.js';
import { createMetricsRegistry, startMetricsServerWhenSet } from '../../shared/metrics/index.js';
import { startBroker } from './start-broker.js';

await runProcess('broker', async ({ config, log, started }) => {
  requireUserAuth(config.auth, 'MQTT users log in with a JWT or through the auth webhook');
  const redisUrl = requireSetting(config.redis.url, 'REDIS_URL', 'presence is kept in the shared Redis');
  const metrics = createMetricsRegistry();
  const broker = await startBroker({
    config: config.broker,
    auth: config.auth,
    topicRoot: config.mqtt.topicRoot,
    redis: { ...config.redis, url: redisUrl },
    log,
    metrics,
  });
  started.push(broker);
  started.push(...(await startMetricsServerWhenSet(config.http, { registry: metrics, log, checks: broker.readiness })));
});
