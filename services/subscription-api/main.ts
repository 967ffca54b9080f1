import { loadConfig, readEnv, requireSetting } from '../../shared/config/index.js';
import { startDatabase } from '../../shared/database/index.js';
import { closeAll, onShutdownSignal, type Service } from '../../shared/lifecycle/index.js';
import { createLogger } from '../../shared/logging/index.js';
import { startSubscriptionApi } from './start-subscription-api.js';

const config = loadConfig(readEnv(process.env));
const log = createLogger({ level: config.logLevel, name: 'subscription-api' });
const started: Service[] = [];
try {
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
    }),
  );
  onShutdownSignal(() => closeAll(started, log), log);
} catch (err) {
  log.fatal({ err }, 'subscription-api failed to start');
  await closeAll(started, log).catch(() => undefined);
  process.exit(1);
}
