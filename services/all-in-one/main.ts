import { redactUrl, type Config } from '../../shared/config/index.js';
import { runProcess } from '../../shared/lifecycle/index.js';
import { DEMO_PACKAGE, DEMO_USER, signDemoToken } from './local-credentials.js';
import { startAllInOne, type AllInOne } from './start-all-in-one.js';

const startedAt = performance.now();

await runProcess('all-in-one', async ({ config, log, started }) => {
  const system = await startAllInOne(config, log);
  started.push(...system.services);
  const { httpPort, broker } = system;
  log.info(
    {
      httpPort,
      mqttPort: broker?.tcpPort,
      mqttWsPort: broker?.wsPort,
      startupMs: Math.round(performance.now() - startedAt),
    },
    'axion-push ready',
  );
  console.log(await banner(config, system));
});

async function banner(config: Config, system: AllInOne): Promise<string> {
  const { httpPort, broker } = system;
  const moved = (actual: number, wanted: number) =>
    actual === wanted || wanted === 0 ? '' : `   (${wanted} was taken)`;
  const lines = [
    '',
    'axion-push is running. Ctrl-C stops it.',
    `  HTTP API       http://localhost:${httpPort}${moved(httpPort, config.http.port.port)}`,
    ...(system.demoPage ? [`  demo page      http://localhost:${httpPort}/`] : []),
    broker
      ? `  MQTT           mqtt://localhost:${broker.tcpPort}${moved(broker.tcpPort, config.broker.tcp.port)}`
      : `  MQTT           external broker ${redactUrl(config.mqtt.url ?? '')}`,
    ...(broker
      ? [`  MQTT over WS   ws://localhost:${broker.wsPort}/mqtt${moved(broker.wsPort, config.broker.ws.port)}`]
      : []),
    `  database       ${redactUrl(config.database.url)}`,
    `  redis          ${system.privateRedis ? `private redis-server (${system.redisUrl}), data in ${config.dataDir}/redis` : 'REDIS_URL'}`,
  ];
  const { jwtSecret, apiKey } = system.generated;
  if (jwtSecret || apiKey) {
    lines.push('', `Local credentials (generated, kept in ${config.dataDir}/local-credentials.json; for local use only):`);
  }
  if (jwtSecret) {
    lines.push(
      `  user JWT       ${await signDemoToken(jwtSecret)}`,
      `                 (user "${DEMO_USER}", package "${DEMO_PACKAGE}", valid 30 days)`,
    );
  }
  if (apiKey) {
    lines.push(
      `  service key    ${apiKey.key}   (all packages, admin)`,
      '',
      'Send a notification:',
      `  curl -X POST http://localhost:${httpPort}/v1/notifications -H 'x-api-key: ${apiKey.key}' \\`,
      `    -H 'content-type: application/json' -d '{"package":"${DEMO_PACKAGE}","target":{"user":"${DEMO_USER}"},"title":"Hello"}'`,
    );
  }
  return `${lines.join('\n')}\n`;
}
