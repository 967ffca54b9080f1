import { loadConfig, readEnv, type Config } from '../config/index.js';
import { ConfigError } from '../errors/index.js';
import { createLogger, type Logger } from '../logging/index.js';
import { closeAll, onShutdownSignal, type Service } from './service.js';

export interface ProcessContext {
  config: Config;
  log: Logger;
  /** Push each part as it starts; shutdown closes them in reverse order. */
  started: Service[];
}

/**
 * The body of every `main.ts`: load and validate settings, create the logger, start the parts,
 * and close them in reverse order on SIGINT/SIGTERM. A failure to start closes what did start
 * and exits 1; bad settings print one readable message, not a stack.
 */
export async function runProcess(
  name: string,
  start: (context: ProcessContext) => Promise<void>,
): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(readEnv(process.env));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${name}: ${err.message}\n`);
    process.exit(1);
  }
  const pretty = config.logFormat === 'pretty' || (config.logFormat === undefined && process.stdout.isTTY);
  const log = createLogger({ level: config.logLevel, name, pretty });
  const started: Service[] = [];
  const starting = start({ config, log, started });
  // Listening from the start: a signal during start-up (or just after the last part reported
  // itself) must still close what was started, or children such as a private redis-server
  // would outlive the process. Closing waits for the start to finish first.
  onShutdownSignal(async () => {
    await starting.catch(() => undefined);
    await closeAll(started, log);
  }, log);
  try {
    await starting;
  } catch (err) {
    if (err instanceof ConfigError) log.fatal(`${name} cannot start: ${err.message}`);
    else log.fatal({ err }, `${name} failed to start`);
    await closeAll(started, log).catch(() => undefined);
    process.exit(1);
  }
}
