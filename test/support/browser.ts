import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's Chromium; `.ci/run` installs it when it is missing. */
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

export interface DesktopNotification {
  id: number;
  replaces: number;
  summary: string;
  body: string;
}

/**
 * The desktop's notification daemon as Chromium sees it over D-Bus (browser-notifications.py):
 * records what Chromium shows and clicks a notification the way a person would.
 */
export class NotificationDaemon {
  readonly shown: DesktopNotification[] = [];
  readonly closed: number[] = [];
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const event = JSON.parse(line) as { event: string } & DesktopNotification;
      if (event.event === 'notify') this.shown.push(event);
      if (event.event === 'close') this.closed.push(event.id);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** Resolves with the first notification shown (from now on or before) that passes `match`. */
  async waitFor(match: (n: DesktopNotification) => boolean, timeoutMs = 5_000): Promise<DesktopNotification> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.shown.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no such desktop notification; shown: ${JSON.stringify(this.shown)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** A click on the notification's body: Chromium dispatches a trusted `notificationclick`. */
  click(id: number): void {
    this.child.stdin!.write(`${JSON.stringify({ click: id })}\n`);
  }
}

export interface TestBrowser {
  context: BrowserContext;
  notifications: NotificationDaemon;
  close(): Promise<void>;
}

/** Starts `command` and resolves with it once its first line of output passes `ready`. */
function startChild(
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; quiet?: boolean },
  ready: (line: string) => boolean,
): Promise<ChildProcess> {
  const child = spawn(command, args, { env: options.env, stdio: ['pipe', 'pipe', options.quiet ? 'ignore' : 'inherit'] });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => fail(new Error(`${command} did not start within 10 s`)), 10_000);
    function fail(err: Error) {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    }
    child.once('error', (err) => fail(new Error(`${command} could not start (${err.message}); install dbus-daemon, python3-dbus and python3-gi`)));
    child.once('exit', (code) => fail(new Error(`${command} exited with code ${code} before it was ready`)));
    lines.once('line', (line) => {
      if (!ready(line)) return fail(new Error(`${command} said ${line}`));
      clearTimeout(timer);
      child.removeAllListeners('exit');
      lines.close();
      resolve(child);
    });
  });
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/**
 * Headless Chromium with a profile of its own (a persistent context: Chromium routes the
 * notification clicks of an off-the-record profile nowhere) on a private D-Bus session bus with
 * a notification daemon on it. `close()` stops all of it and removes the profile.
 */
export async function launchBrowser(): Promise<TestBrowser> {
  const dir = mkdtempSync(join(tmpdir(), 'axion-browser-'));
  let bus: ChildProcess | undefined;
  let daemon: ChildProcess | undefined;
  let context: BrowserContext | undefined;
  const close = async () => {
    await context?.close().catch(() => undefined);
    await stopChild(daemon);
    await stopChild(bus);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const address = `unix:path=${join(dir, 'bus')}`;
    bus = await startChild('dbus-daemon', ['--session', '--nofork', `--address=${address}`, '--print-address=1'], { env: process.env, quiet: true }, (l) => l.startsWith('unix:'));
    const env = { ...process.env, DBUS_SESSION_BUS_ADDRESS: address };
    const script = join(process.cwd(), 'test', 'support', 'browser-notifications.py');
    daemon = await startChild('/usr/bin/python3', [script], { env }, (l) => l.includes('"ready"'));
    const notifications = new NotificationDaemon(daemon);
    context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      env,
    });
    return { context, notifications, close };
  } catch (err) {
    await close();
    throw err;
  }
}
