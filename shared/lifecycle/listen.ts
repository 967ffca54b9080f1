import type { Server as HttpServer } from 'node:http';
import type { Server as NetServer } from 'node:net';
import { ConfigError } from '../errors/index.js';
import type { PortSetting } from '../config/index.js';

export interface ListenOptions {
  host: string;
  setting: PortSetting;
  /** The variable that sets this port, named in errors. */
  variable: string;
  /**
   * Only the all-in-one default moves a port that was not set explicitly, as dev servers do;
   * a service started alone, or a port the operator chose, fails with a clear error instead.
   */
  moveWhenTaken: boolean;
  /** Errors the server reports once it is listening. */
  onError?: (err: Error) => void;
}

const MAX_MOVES = 50;

/** Listens and returns the port actually bound (port 0 picks a free one). */
export async function listen(server: NetServer | HttpServer, options: ListenOptions): Promise<number> {
  const { setting } = options;
  const mayMove = options.moveWhenTaken && !setting.explicit && setting.port !== 0;
  for (let port = setting.port, moves = 0; ; port++, moves++) {
    try {
      await tryListen(server, options.host, port);
      // After listening, an accept error (EMFILE) must not crash the process.
      server.on('error', (err) => options.onError?.(err));
      const address = server.address();
      return typeof address === 'object' && address ? address.port : port;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EADDRINUSE' || !mayMove || moves >= MAX_MOVES || port >= 65535) {
        const why = code === 'EADDRINUSE' ? 'is already in use' : `cannot be bound (${code})`;
        throw new ConfigError(
          `${options.variable}: port ${port} on ${options.host} ${why}; set ${options.variable} to a free port`,
        );
      }
    }
  }
}

function tryListen(server: NetServer | HttpServer, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** Closes a server, resolving when it has stopped (ignores "not running"). */
export function closeServer(server: NetServer | HttpServer): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => {
      if (err && (err as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING') reject(err);
      else resolve();
    });
  });
}
