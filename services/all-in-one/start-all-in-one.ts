import type { Config } from '../../shared/config/index.js';
import { startDatabase } from '../../shared/database/index.js';
import { closeAll, type Service } from '../../shared/lifecycle/index.js';
import { createMetricsRegistry } from '../../shared/metrics/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { startBroker } from '../broker/start-broker.js';
import { startNotifyRouter } from '../notify-router/start-notify-router.js';
import { startPushWorker } from '../push-worker/start-push-worker.js';
import { startSubscriptionApi } from '../subscription-api/start-subscription-api.js';
import { loadLocalCredentials, routerKey, type LocalCredentials } from './local-credentials.js';
import { startPrivateRedis } from './private-redis.js';
import { lockDataDir } from './data-dir-lock.js';

export interface AllInOne {
  services: Service[];
  httpPort: number;
  /** Ports of the embedded broker, or null when `MQTT_URL` names an external one. */
  broker: { tcpPort: number; wsPort: number } | null;
  redisUrl: string;
  privateRedis: boolean;
  /** Whether the API serves the demo page (on unless `DEMO_PAGE=false`). */
  demoPage: boolean;
  /** Credentials generated because the settings lacked them; only these may be printed. */
  generated: { jwtSecret?: string; apiKey?: LocalCredentials['apiKey'] };
}

/**
 * Every service in one process: the embedded default behind `npm start`. Missing
 * infrastructure is provided locally (SQLite, a private redis-server, the embedded broker,
 * generated credentials); whatever the settings name is used instead. Parts start in
 * dependency order and the API last, so no request arrives before the rest can serve it.
 */
export async function startAllInOne(config: Config, log: Logger): Promise<AllInOne> {
  const services: Service[] = [];
  try {
    services.push(lockDataDir(config.dataDir));
    const needsLocal = !config.auth.jwtSecret || config.auth.apiKeys.length === 0;
    const local = needsLocal ? loadLocalCredentials(config.dataDir) : null;
    const jwtSecret = config.auth.jwtSecret ?? local!.jwtSecret;
    const apiKeys = config.auth.apiKeys.length > 0 ? config.auth.apiKeys : [local!.apiKey];

    let redisUrl = config.redis.url;
    if (!redisUrl) {
      const privateRedis = await startPrivateRedis(config.dataDir, log);
      services.push(privateRedis);
      redisUrl = privateRedis.url;
    }
    const redis = { ...config.redis, url: redisUrl };
    const database = await startDatabase(config.database, log);
    services.push(database);

    // One registry for the whole process: GET /metrics on the API shows every service.
    const metrics = createMetricsRegistry();
    let broker: AllInOne['broker'] = null;
    let mqttUrl = config.mqtt.url;
    if (mqttUrl) {
      log.warn(
        'MQTT_URL names an external broker: presence is not tracked, so delivery "offline" sends Web Push as "always" does',
      );
    }
    let mqttLogin = { username: config.mqtt.username, password: config.mqtt.password };
    if (!mqttUrl) {
      // The router logs in to the embedded broker with a key made for this process alone.
      const router = routerKey();
      mqttLogin = { username: router.name, password: router.key };
      const embedded = await startBroker({
        config: config.broker,
        auth: { ...config.auth, jwtSecret, apiKeys: [...apiKeys, router] },
        topicRoot: config.mqtt.topicRoot,
        redis,
        log,
        moveWhenTaken: true,
        metrics,
      });
      services.push(embedded);
      broker = { tcpPort: embedded.tcpPort, wsPort: embedded.wsPort };
      mqttUrl = `mqtt://127.0.0.1:${embedded.tcpPort}`;
    }
    const { dataSource } = database;
    // The embedded default shows the demo page unless DEMO_PAGE=false, or unless the JWT
    // secret is the operator's own (set, not generated here): demo sign-in mints tokens for any
    // user name with that secret, which an application trusting the same secret would accept.
    const demoPage = config.http.demoPage ?? !config.auth.jwtSecret;
    services.push(await startPushWorker({ push: config.push, redis, dataSource, log, metrics }));
    const router = await startNotifyRouter({
      mqtt: { ...config.mqtt, ...mqttLogin, url: mqttUrl },
      redis,
      pushAttempts: config.push.maxAttempts,
      dataSource,
      log,
      metrics,
      inbox: config.inbox,
    });
    services.push(router);
    const api = await startSubscriptionApi({
      http: config.http,
      auth: { ...config.auth, jwtSecret, apiKeys },
      push: config.push,
      redis,
      dataSource,
      log,
      moveWhenTaken: true,
      metrics,
      // The API checks the database and Redis itself; the broker is checked through the
      // router's connection to it (embedded or external).
      readiness: [router.brokerCheck],
      demo: demoPage ? { mqttWsPort: broker?.wsPort ?? null, topicRoot: config.mqtt.topicRoot } : undefined,
    });
    services.push(api);
    return {
      services,
      httpPort: api.port,
      broker,
      redisUrl,
      privateRedis: !config.redis.url,
      demoPage,
      generated: {
        jwtSecret: config.auth.jwtSecret ? undefined : jwtSecret,
        apiKey: config.auth.apiKeys.length > 0 ? undefined : local!.apiKey,
      },
    };
  } catch (err) {
    await closeAll(services, log).catch(() => undefined);
    throw err;
  }
}
