import { isUtf8 } from 'node:buffer';

/**
 * Deepest nesting of objects and arrays taken from outside (HTTP bodies, MQTT payloads). An
 * event's `data` needs a few levels; V8's `JSON.stringify` overflows the stack at a few
 * thousand, and a 64 KB body holds 65,000 (`[[[[…`), so the limit is checked before parsing.
 */
export const MAX_JSON_DEPTH = 32;

export type JsonTextProblem = { code: 'invalid_utf8' | 'too_deep'; message: string };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN = new Set([0x5b, 0x7b]);
const CLOSE = new Set([0x5d, 0x7d]);

/**
 * Whether JSON text nests objects and arrays deeper than `maxDepth`, counted over the raw
 * bytes without parsing (brackets inside strings do not count). Safe on UTF-8: no byte of a
 * multi-byte sequence is ASCII.
 */
export function nestsDeeperThan(bytes: Uint8Array, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (OPEN.has(byte)) {
      if (++depth > maxDepth) return true;
    } else if (CLOSE.has(byte)) {
      depth--;
    }
  }
  return false;
}

/**
 * What makes JSON text unfit to parse before it is parsed: bytes that are not UTF-8 (RFC 8259
 * §8.1; decoding would turn them silently into U+FFFD) or nesting deeper than `MAX_JSON_DEPTH`.
 */
export function jsonTextProblem(bytes: Uint8Array, maxDepth = MAX_JSON_DEPTH): JsonTextProblem | null {
  if (!isUtf8(bytes)) return { code: 'invalid_utf8', message: 'the JSON is not valid UTF-8' };
  if (nestsDeeperThan(bytes, maxDepth)) {
    return { code: 'too_deep', message: `the JSON nests objects and arrays deeper than ${maxDepth} levels` };
  }
  return null;
}

export type JsonRead = { ok: true; value: unknown } | { ok: false; code: JsonTextProblem['code'] | 'invalid_json'; message: string };

/** Parses JSON from outside (an MQTT payload) after `jsonTextProblem`'s checks. */
export function readJson(bytes: Buffer): JsonRead {
  const problem = jsonTextProblem(bytes);
  if (problem) return { ok: false, ...problem };
  try {
    return { ok: true, value: JSON.parse(bytes.toString('utf8')) as unknown };
  } catch {
    return { ok: false, code: 'invalid_json', message: 'payload is not JSON' };
  }
}
