import { requireSetting } from '../../shared/config/index.js';
import { startDatabase } from '../../shared/database/index.js';
import { runProcess } from '../../shared/lifecycle/index.js';
import { startSubscriptionApi } from './start-subscription-api.js';

await runProcess('subscription-api', async ({ config, log, started }) => {
  const redisUrl = requireSetting(config.redis.url, 'REDIS_URL', 'the API queues events in the shared Redis');
  const jwtSecret = requireSetting(config.auth.jwtSecret, 'AUTH_JWT_SECRET', 'users are authenticated by HS256 JWTs');
  const database = await startDatabase(config.database, log);
  started.push(database);
  started.push(
    await startSubscriptionApi({
      http: config.http,
      auth: { ...config.auth, jwtSecret },
      push: config.push,
      redis: { ...config.redis, url: redisUrl },
      dataSource: database.dataSource,
      log,
      // Off unless DEMO_PAGE turns it on: a service started alone is a deployment.
      demo: config.http.demoPage
        ? { mqttWsPort: config.broker.ws.port, topicRoot: config.mqtt.topicRoot }
        : undefined,
    }),
  );
});
