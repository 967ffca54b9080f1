import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './free-port.js';
import { signalAndWait } from './signal-child.js';

/** A redis-server of the test's own, with AOF on, that the test may stop and start again. */
export class PrivateRedisServer {
  readonly dir = mkdtempSync(join(tmpdir(), 'axion-redis-'));
  port = 0;
  private child: ChildProcess | undefined;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    if (this.port === 0) this.port = await freePort();
    this.child = spawn('redis-server', [
      '--bind', '127.0.0.1', '--port', String(this.port), '--dir', this.dir,
      '--appendonly', 'yes', '--appendfsync', 'always', '--save', '',
    ], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        if ((await probe.ping()) === 'PONG') return this;
      } catch {
        if (Date.now() > deadline) throw new Error('redis-server did not start');
      } finally {
        probe.disconnect();
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Stops the server; its data stays in the AOF for the next `start()`. */
  stop(): Promise<void> {
    return signalAndWait(this.child, 'SIGTERM');
  }

  /** Kills the server (SIGKILL: a crash, no shutdown); what the AOF holds comes back with `start()`. */
  kill(): Promise<void> {
    return signalAndWait(this.child, 'SIGKILL');
  }

  /** Freezes the server (SIGSTOP): connections stay open and commands go unanswered. */
  freeze(): void {
    this.child?.kill('SIGSTOP');
  }

  thaw(): void {
    this.child?.kill('SIGCONT');
  }

  async remove(): Promise<void> {
    this.thaw();
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
