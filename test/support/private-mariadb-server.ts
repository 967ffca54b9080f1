import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createConnection } from 'mysql2/promise';
import { freePort } from './free-port.js';
import { signalAndWait } from './signal-child.js';

const run = promisify(execFile);

/**
 * A mariadbd of the test's own (data directory, port and socket in a temp dir), that the test
 * may stop and start again: the shared MariaDB on 3306 is never to be stopped. Root logs in
 * over TCP with an empty password, as on the shared server.
 */
export class PrivateMariadbServer {
  readonly dir = mkdtempSync(join(tmpdir(), 'axion-mariadb-'));
  port = 0;
  private child: ChildProcess | undefined;

  /** The server's root URL; add `/<database>`. */
  get url(): string {
    return `mysql://root@127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    if (this.port === 0) {
      this.port = await freePort();
      await run('mariadb-install-db', [
        '--no-defaults', `--datadir=${join(this.dir, 'data')}`, '--auth-root-authentication-method=normal',
        '--skip-test-db', '--skip-name-resolve',
      ]);
    }
    this.child = spawn('/usr/sbin/mariadbd', [
      '--no-defaults', `--datadir=${join(this.dir, 'data')}`, `--port=${this.port}`, '--bind-address=127.0.0.1',
      `--socket=${join(this.dir, 'mariadb.sock')}`, `--pid-file=${join(this.dir, 'mariadb.pid')}`,
      `--log-error=${join(this.dir, 'error.log')}`, '--skip-log-bin', '--skip-name-resolve',
      '--innodb-buffer-pool-size=64M', '--max-connections=500',
      // Commits reach the OS at once and disk within a second: a killed mariadbd loses nothing,
      // and a test does not wait on an fsync per statement on a shared disk.
      '--innodb-flush-log-at-trx-commit=2',
      // mariadbd refuses to run as root unless told to; CI runs as root.
      ...(process.getuid?.() === 0 ? ['--user=root'] : []),
    ], { stdio: 'ignore' });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const conn = await createConnection({ uri: this.url, connectTimeout: 1_000 });
        await conn.end();
        return this;
      } catch {
        if (this.child.exitCode !== null) throw new Error(`mariadbd exited; see ${join(this.dir, 'error.log')}`);
        if (Date.now() > deadline) throw new Error('mariadbd did not start within 30 s');
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Creates a database and answers its URL. */
  async createDatabase(name: string): Promise<string> {
    const conn = await createConnection(this.url);
    try {
      await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    } finally {
      await conn.end();
    }
    return `${this.url}/${name}`;
  }

  /** Stops the server (SIGKILL: an outage, not a shutdown); its data stays for `start()`. */
  kill(): Promise<void> {
    return signalAndWait(this.child, 'SIGKILL');
  }

  async remove(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
