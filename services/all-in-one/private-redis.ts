import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { ConfigError } from '../../shared/errors/index.js';
import type { Service } from '../../shared/lifecycle/index.js';
import type { Logger } from '../../shared/logging/index.js';

export interface PrivateRedis extends Service {
  url: string;
}

const READY_TIMEOUT_MS = 15_000;

/**
 * Starts a `redis-server` child that keeps its data (AOF) under `<dataDir>/redis`, so queued
 * jobs survive a restart of `npm start`. Used only when `REDIS_URL` is unset.
 */
export async function startPrivateRedis(dataDir: string, log: Logger): Promise<PrivateRedis> {
  const dir = join(dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const pidFile = join(dir, 'redis.pid');
  stopLeftover(pidFile, log);
  const port = await freePort();
  const child = spawn(
    'redis-server',
    [
      '--bind', '127.0.0.1', '--port', String(port), '--dir', dir,
      '--appendonly', 'yes', '--save', '', '--daemonize', 'no',
      '--maxmemory-policy', 'noeviction', '--protected-mode', 'yes',
      // Exit on SIGTERM even when the last AOF write fails (a removed data directory): a
      // redis-server that refuses to stop outlives the process that started it.
      '--shutdown-on-sigterm', 'force',
    ],
    // Detached: Ctrl-C signals the whole foreground process group, and Redis must outlive the
    // workers until the ordered shutdown stops it last.
    { stdio: ['ignore', openSync(join(dir, 'redis.log'), 'a'), 'inherit'], detached: true },
  );
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new ConfigError('REDIS_URL is not set and no redis-server binary was found: install Redis (apt-get install redis-server) or set REDIS_URL')
          : err,
      ),
    );
  });
  writeFileSync(pidFile, String(child.pid));
  const url = `redis://127.0.0.1:${port}`;
  await waitUntilReady(url, child);
  log.info({ port, dir }, 'private redis-server started');
  return {
    name: 'private-redis',
    url,
    async close() {
      await stopChild(child);
      rmSync(pidFile, { force: true });
    },
  };
}

/** A child left running by a process that was killed would hold the AOF: stop it first. */
function stopLeftover(pidFile: string, log: Logger): void {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmdline.includes('redis-server')) {
      process.kill(pid, 'SIGTERM');
      log.warn({ pid }, 'stopped a redis-server left over from an earlier run');
    }
  } catch {
    // Not running any more.
  }
  rmSync(pidFile, { force: true });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== 'object' || !address) throw new Error('could not find a free port');
  return address.port;
}

async function waitUntilReady(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}; see data/redis/redis.log`);
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      // While the AOF loads, Redis answers LOADING; jobs must not be read before it is done.
      if ((await probe.ping()) === 'PONG') return;
    } catch {
      // Not up yet.
    } finally {
      probe.disconnect();
    }
    await sleep(100);
  }
  await stopChild(child);
  throw new Error(`redis-server did not become ready within ${READY_TIMEOUT_MS} ms`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
