/** A LIMIT goes into the SQL text (a `LIMIT ?` is not portable), so it must be a plain integer. */
export function checkedLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new RangeError(`limit must be a positive integer, got ${limit}`);
  }
  return limit;
}
