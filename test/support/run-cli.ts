import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** The built CLI, as the package's bin `axion-push` runs it. */
export const CLI = join(process.cwd(), 'dist', 'cli', 'main.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node dist/cli/main.js ...args` with only `env` (and PATH) set, in `cwd` (default: a
 * fresh empty directory, so no `.env` of the repository leaks in). Never throws on a non-zero
 * exit: the code is what the test checks.
 */
export async function runCli(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<CliRun> {
  const ownDir = cwd === undefined ? mkdtempSync(join(tmpdir(), 'axion-cli-')) : undefined;
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], {
      env: { PATH: process.env['PATH'], ...env },
      cwd: cwd ?? ownDir,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  } finally {
    if (ownDir) rmSync(ownDir, { recursive: true, force: true });
  }
}
