import type { Logger } from '../logging/index.js';

/** Anything long-lived that a composition root starts and must close on shutdown. */
export interface Service {
  readonly name: string;
  close(): Promise<void>;
}

/**
 * Closes services in reverse start order. Every close runs even when an earlier one fails,
 * so one stuck dependency cannot keep the others open; the first failure is re-thrown last.
 */
export async function closeAll(services: readonly Service[], log: Logger): Promise<void> {
  let firstError: unknown;
  for (const service of [...services].reverse()) {
    try {
      await service.close();
      log.debug({ part: service.name }, 'closed');
    } catch (err) {
      log.error({ err, part: service.name }, 'close failed');
      firstError ??= err;
    }
  }
  if (firstError !== undefined) throw firstError;
}

/** After this, a shutdown that is still waiting (say, on a Redis that is gone) is cut short. */
export const SHUTDOWN_TIMEOUT_MS = 30_000;

/**
 * Runs `stop` once on the first SIGINT or SIGTERM. A second signal, or a shutdown that takes
 * longer than `timeoutMs`, forces exit so an operator is never stuck behind a hanging close.
 */
export function onShutdownSignal(
  stop: (signal: string) => Promise<void>,
  log: Logger,
  timeoutMs = SHUTDOWN_TIMEOUT_MS,
): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    setTimeout(() => {
      log.error({ timeoutMs }, 'shutdown timed out: exiting');
      process.exit(1);
    }, timeoutMs).unref();
    stop(signal).then(
      () => exitAfterFlush(log, 0, 'stopped'),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        exitAfterFlush(log, 1, 'stopped with errors');
      },
    );
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
}

function exitAfterFlush(log: Logger, code: number, message: string): void {
  log.info(message);
  log.flush(() => process.exit(code));
}
