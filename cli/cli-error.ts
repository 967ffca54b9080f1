import { CommanderError } from 'commander';
import { AppError, ConfigError } from '../shared/errors/index.js';

/**
 * Exit codes scripts can rely on: 0 done, 1 the operation failed (bad settings, the database
 * or Redis unreachable, nothing delivered), 2 the command line or its input is wrong.
 */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Printed after a usage error, in place of the whole help text. */
export const USAGE_HINT = '(add --help for usage)';

/** A failure the CLI explains in one line; `exitCode` says whether the user or the system is at fault. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: typeof EXIT_FAILED | typeof EXIT_USAGE = EXIT_FAILED,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The command line asks for something impossible (exit 2). */
export function usageError(message: string): CliError {
  return new CliError(message, EXIT_USAGE);
}

/**
 * The exit code for an error thrown by a command, and the lines to print (none when
 * commander has printed its own). Input the intake refuses (400 invalid, 413 too large) is a
 * usage error; anything else is a failure, shown by its message only, never a stack.
 */
export function outcomeOf(err: unknown): { exitCode: number; lines: string[] } {
  if (err instanceof CommanderError) {
    // --help ends here too, with exit code 0; commander exits 1 on a usage error, we say 2.
    return { exitCode: err.exitCode === 0 ? EXIT_OK : EXIT_USAGE, lines: [] };
  }
  const isUsage =
    (err instanceof CliError && err.exitCode === EXIT_USAGE) ||
    (err instanceof AppError && (err.httpStatus === 400 || err.httpStatus === 413));
  if (isUsage) return { exitCode: EXIT_USAGE, lines: [`error: ${(err as Error).message}`, USAGE_HINT] };
  if (err instanceof ConfigError) return { exitCode: EXIT_FAILED, lines: [err.message] };
  return { exitCode: EXIT_FAILED, lines: [`axion-push: ${(err as Error).message}`] };
}
