import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

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

  constructor(script: string, env: Record<string, string | undefined>) {
    this.child = spawn(process.execPath, [script], {
      env: { PATH: process.env['PATH'], HOME: process.env['HOME'], ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
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
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => {
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
  async waitForLog(msg: string, timeoutMs = 20_000, match: (l: LogLine) => boolean = () => true): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find((l) => l.msg === msg && match(l));
      if (found) return found;
      if (!this.running) throw new Error(`process exited before logging "${msg}":\n${this.output.join('\n')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no "${msg}" within ${timeoutMs} ms:\n${this.output.slice(-30).join('\n')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 500));
        this.listeners.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
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
