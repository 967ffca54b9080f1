import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'dotenv';

/**
 * The process environment over an optional `.env` file: a variable set in the environment
 * wins, so a deployment can override a checked-out `.env` without editing it.
 */
export function readEnv(
  env: Record<string, string | undefined>,
  dotenvPath = '.env',
): Record<string, string | undefined> {
  const fromFile = existsSync(dotenvPath) ? parse(readFileSync(dotenvPath)) : {};
  return { ...fromFile, ...env };
}
