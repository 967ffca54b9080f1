import { loadConfig, readEnv, requireSetting } from '../../shared/config/index.js';
import { startDatabase } from '../../shared/database/index.js';
import { closeAll, onShutdownSignal, type Service } from '../../shared/lifecycle/index.js';
import { createLogger } from '../../shared/logging/index.js';
import { startNotifyRouter } from './start-notify-router.js';

const config = loadConfig(readEnv(process.env));
const log = createLogger({ level: config.logLevel, name: 'notify-router' });
const started: Service[] = [];
try {
  const redisUrl = requireSetting(config.redis.url, 'REDIS_URL', 'the router needs the shared Redis');
  const mqttUrl = requireSetting(config.mqtt.url, 'MQTT_URL', 'the router is a client of the broker');
  const database = await startDatabase(config.database, log);
  started.push(database);
  started.push(
    await startNotifyRouter({
      mqtt: { ...config.mqtt, url: mqttUrl },
      redis: { ...config.redis, url: redisUrl },
      pushAttempts: config.push.maxAttempts,
      dataSource: database.dataSource,
      log,
    }),
  );
  onShutdownSignal(() => closeAll(started, log), log);
} catch (err) {
  log.fatal({ err }, 'notify-router failed to start');
  await closeAll(started, log).catch(() => undefined);
  process.exit(1);
}
