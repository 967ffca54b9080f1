import { InvalidArgumentError } from 'commander';
import { isValidName } from '../shared/topics/index.js';

/**
 * Commander argument parsers: a value they refuse becomes commander's own usage error
 * ("error: option '--ttl <seconds>' argument 'x' is invalid. ..."), exit code 2.
 */

/** A package, user or group name, as every entry point accepts them. */
export function parseName(value: string): string {
  if (!isValidName(value)) throw new InvalidArgumentError('must be 1-128 characters of [A-Za-z0-9._@-].');
  return value;
}

export function parseWholeNumber(value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new InvalidArgumentError('must be a whole number.');
  return Number(value);
}
