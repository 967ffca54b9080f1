import { requireSetting, requireUserAuth } from '../../shared/config/index.js';
import { startDatabase } from '../../shared/database/index.js';
import { runProcess } from '../../shared/lifecycle/index.js';
import { startSubscriptionApi } from './start-subscription-api.js';

await runProcess('subscription-api', async ({ config, log, started }) => {
  const redisUrl = requireSetting(config.redis.url, 'REDIS_URL', 'the API queues events in the shared Redis');
  requireUserAuth(config.auth, 'users sign in with a JWT or through the auth webhook');
  const database = await startDatabase(config.database, log);
  started.push(database);
  started.push(
    await startSubscriptionApi({
      http: config.http,
      auth: config.auth,
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
