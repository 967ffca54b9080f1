import { loadConfig, readEnv } from '../../shared/config/index.js';
import { closeAll, onShutdownSignal } from '../../shared/lifecycle/index.js';
import { createLogger } from '../../shared/logging/index.js';
import { startBroker } from './start-broker.js';

const config = loadConfig(readEnv(process.env));
const log = createLogger({ level: config.logLevel, name: 'broker' });
try {
  const broker = await startBroker({ config: config.broker, log });
  onShutdownSignal(() => closeAll([broker], log), log);
} catch (err) {
  log.fatal({ err }, 'broker failed to start');
  process.exit(1);
}
