import { requireSetting } from '../../shared/config/index.js';
import { runProcess } from '../../shared/lifecycle/index.js';
import { startBroker } from './start-broker.js';

await runProcess('broker', async ({ config, log, started }) => {
  const jwtSecret = requireSetting(config.auth.jwtSecret, 'AUTH_JWT_SECRET', 'MQTT users log in with their JWT');
  const redisUrl = requireSetting(config.redis.url, 'REDIS_URL', 'presence is kept in the shared Redis');
  started.push(
    await startBroker({
      config: config.broker,
      auth: { ...config.auth, jwtSecret },
      topicRoot: config.mqtt.topicRoot,
      redis: { ...config.redis, url: redisUrl },
      log,
    }),
  );
});
