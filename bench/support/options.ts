/**
 * A number given on a benchmark's command line. Anything else stops the benchmark before it
 * starts, naming the option: a run on NaN or a silent default measures the wrong thing.
 */
export function numberOption(
  bench: string,
  name: string,
  text: string | undefined,
  rule: { min: number; whole: boolean },
): number {
  const value = Number(text);
  const pattern = rule.whole ? /^\d+$/ : /^\d+(\.\d+)?$/;
  if (text === undefined || !pattern.test(text) || value < rule.min) {
    const kind = rule.whole ? 'a whole number' : 'a number';
    console.error(`${bench}: --${name} must be ${kind} of at least ${rule.min}, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}
