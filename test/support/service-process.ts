import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PUSH_WORKER_NODE_FLAGS } from '../../services/push-worker/node-flags.js';

export type LogLine = Record<string, unknown> & { msg?: string };

/**
 * A service started the way `npm start` (or a container) starts it: `node dist/...main.js`
 * with settings in the environment. Collects its JSON log lines for the test to wait on.
 */
export class ServiceProcess {
  readonly lines: LogLine[] = [];
  readonly output: string[] = [];
  private readonly child: ChildProcess;
  private readonly listeners: (() => void)[] = [];
  readonly exited: Promise<number | null>;

  /**
   * Runs in `cwd` (default: a fresh empty directory, so a developer's `.env` in the repo cannot
   * leak in) as the leader of its own process group, like a command typed at a terminal.
   */
  constructor(script: string, env: Record<string, string | undefined>, cwd?: string) {
    const ownDir = cwd === undefined ? mkdtempSync(join(tmpdir(), 'axion-proc-')) : undefined;
    cwd ??= ownDir;
    this.child = spawn(process.execPath, [...nodeFlagsOf(script), script], {
      cwd,
      env: { PATH: process.env['PATH'], HOME: process.env['HOME'], ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        this.output.push(line);
        if (process.env['TEST_SHOW_SERVICE_LOGS']) process.stderr.write(`[${script}] ${line}\n`);
        if (line.startsWith('{')) {
          try {
            this.lines.push(JSON.parse(line) as LogLine);
          } catch {
            // Not a log line.
          }
        }
        for (const wake of this.listeners.splice(0)) wake();
      });
    }
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => {
      // Only after a kill: a process that exited by itself cleaned up (or the test checks it).
      if (signal === 'SIGKILL' && env['DATA_DIR']) stopOrphanedRedis(env['DATA_DIR']);
      if (ownDir) rmSync(ownDir, { recursive: true, force: true });
      for (const wake of this.listeners.splice(0)) wake();
      resolve(code);
    }));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits for a log line whose `msg` is `msg` (and that passes `match`). */
  waitForLog(msg: string, timeoutMs = 20_000, match: (l: LogLine) => boolean = () => true): Promise<LogLine> {
    return this.waitFor(() => this.lines.find((l) => l.msg === msg && match(l)), `"${msg}"`, timeoutMs);
  }

  /** Waits for a line of output (log or not) containing `text`. */
  waitForText(text: string, timeoutMs = 20_000): Promise<string> {
    return this.waitFor(() => this.output.find((l) => l.includes(text)), `"${text}"`, timeoutMs);
  }

  private async waitFor<T>(find: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      if (!this.running) throw new Error(`process exited before ${what}:\n${this.output.join('\n')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms:\n${this.output.slice(-30).join('\n')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 500));
        this.listeners.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Ctrl-C at a terminal: SIGINT to the whole process group; resolves with the exit code. */
  async interrupt(timeoutMs = 20_000): Promise<number | null> {
    process.kill(-this.child.pid!, 'SIGINT');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  /** SIGTERM, then the exit code (SIGKILL after `timeoutMs`, and an error). */
  async stop(timeoutMs = 20_000): Promise<number | null> {
    if (!this.running) return this.child.exitCode;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

/**
 * An all-in-one that was killed (not stopped) leaves its private redis-server running: it is
 * detached so that Ctrl-C reaches it last. A test's data directory is never used again, so
 * nothing else would ever stop it.
 */
function stopOrphanedRedis(dataDir: string): void {
  try {
    const pid = Number(readFileSync(join(dataDir, 'redis', 'redis.pid'), 'utf8'));
    if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('redis-server')) process.kill(pid, 'SIGTERM');
  } catch {
    // No private Redis, or it has already stopped.
  }
}

/** The flags production starts a service's script with (docker-compose.yml). */
function nodeFlagsOf(script: string): readonly string[] {
  return script.endsWith(join('services', 'push-worker', 'main.js')) ? PUSH_WORKER_NODE_FLAGS : [];
}
