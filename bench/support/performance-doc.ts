import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

const DOC = new URL('../../docs/performance.md', import.meta.url).pathname;

/**
 * Replaces what is between a benchmark's markers in docs/performance.md with `block`, and
 * leaves the text around them alone. Markers that are missing are appended at the end, so a
 * new benchmark needs no hand edit before its first run.
 */
export function writePerformanceBlock(name: string, block: string): void {
  const begin = `<!-- bench:${name}:begin (written by \`npm run bench:${name}\`; edit outside these markers) -->`;
  const end = `<!-- bench:${name}:end -->`;
  const doc = existsSync(DOC) ? readFileSync(DOC, 'utf8') : '# Performance\n';
  // Matched without the explanation in brackets, so rewording it does not orphan a block.
  const at = doc.indexOf(`<!-- bench:${name}:begin`);
  const until = doc.indexOf(end);
  const replaced = at >= 0 && until > at
    ? `${doc.slice(0, at)}${begin}\n${block}\n${doc.slice(until)}`
    : `${doc.trimEnd()}\n\n${begin}\n${block}\n${end}\n`;
  writeFileSync(DOC, replaced);
}

/** Milliseconds as the result tables show them: two decimals below 10, one above. */
export const formatMs = (v: number) => (v < 10 ? v.toFixed(2) : v.toFixed(1));
/** A count with thousands separators. */
export const formatCount = (v: number) => Math.round(v).toLocaleString('en');

/** The "Machine:" line of a results block; `extra` names what else the run depends on. */
export function machineLine(extra?: string): string {
  const model = cpus()[0]?.model ?? '?';
  return `- Machine: ${cpus().length} cores (${model}), ${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}${extra ? `; ${extra}` : ''}`;
}
