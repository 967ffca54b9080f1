import type { z } from 'zod';
import { ValidationError } from '../errors/index.js';

/**
 * Parses outside input against its schema, or throws a ValidationError whose message names
 * each bad field, so the caller learns what to fix from the first answer.
 */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.slice(0, 10).map((issue) => {
    const path = issue.path.map(String).join('.');
    return path ? `${path}: ${issue.message}` : issue.message;
  });
  throw new ValidationError(`invalid ${what}: ${problems.join('; ')}`, problems);
}
