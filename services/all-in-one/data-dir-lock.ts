import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../shared/errors/index.js';
import type { Service } from '../../shared/lifecycle/index.js';

/**
 * One all-in-one process per data directory: a second one would start its own redis-server
 * on the same AOF and open the same SQLite file for writing.
 */
export function lockDataDir(dataDir: string): Service {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'axion-push.pid');
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, 'utf8'));
    if (pid !== process.pid && isRunning(pid)) {
      throw new ConfigError(
        `another axion-push (pid ${pid}) is using ${dataDir}; stop it, or set DATA_DIR to another directory`,
      );
    }
  }
  // 'wx' fails if another process created the file since we looked; 'w' replaces a stale one.
  try {
    writeFileSync(file, String(process.pid), { flag: existsSync(file) ? 'w' : 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    throw new ConfigError(`another axion-push is starting on ${dataDir}; set DATA_DIR to another directory`);
  }
  return { name: 'data-dir-lock', close: async () => rmSync(file, { force: true }) };
}

function isRunning(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('node');
  } catch {
    return false;
  }
}
