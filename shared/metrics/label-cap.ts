/** The label value that stands for every value past the cap. */
export const OTHER_LABEL = 'other';

/**
 * Bounds the distinct values of a label fed from outside input. Each distinct value is a new
 * time series in Prometheus and in our memory, so after `limit` distinct values every new one
 * is reported as `other`; values seen before the cap keep their own series.
 */
export function createLabelCap(limit: number): (value: string) => string {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`label cap must be a positive integer, got ${limit}`);
  }
  const seen = new Set<string>();
  return (value) => {
    if (seen.has(value)) return value;
    if (seen.size >= limit) return OTHER_LABEL;
    seen.add(value);
    return value;
  };
}
