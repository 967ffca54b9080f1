import { loadConfig, readEnv, requireSetting } from '../../shared/config/index.js';
import { startDatabase } from '../../shared/database/index.js';
import { closeAll, onShutdownSignal, type Service } from '../../shared/lifecycle/index.js';
import { createLogger } from '../../shared/logging/index.js';
import { startPushWorker } from './start-push-worker.js';

const config = loadConfig(readEnv(process.env));
const log = createLogger({ level: config.logLevel, name: 'push-worker' });
const started: Service[] = [];
try {
  const redisUrl = requireSetting(config.redis.url, 'REDIS_URL', 'the worker takes jobs from the shared Redis');
  const database = await startDatabase(config.database, log);
  started.push(database);
  started.push(
    await startPushWorker({
      push: config.push,
      redis: { ...config.redis, url: redisUrl },
      dataSource: database.dataSource,
      log,
    }),
  );
  onShutdownSignal(() => closeAll(started, log), log);
} catch (err) {
  log.fatal({ err }, 'push-worker failed to start');
  await closeAll(started, log).catch(() => undefined);
  process.exit(1);
}
