import fc from 'fast-check';

/** Text a name or field must not hold: any code point (lone surrogates too), and usual suspects. */
export const oddText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', '\u0000', '\u202e', '\ud800', '__proto__', 'constructor', 'a b', 'é', '..', '+', '#', '/', '*'),
);

/** Strings of 1,000 to `max` characters: past every field's limit, some past the body's. */
export const hugeString = (max: number) => fc.integer({ min: 1_000, max }).map((n) => 'x'.repeat(n));

/** Anything a field must not hold: wrong types, odd text, huge strings. */
export const wrongValue = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  fc.dictionary(oddText, fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
  oddText,
  hugeString(200_000),
);

/** `depth` nested arrays around `inner`. */
export const nesting = (depth: number, inner = '') => '['.repeat(depth) + inner + ']'.repeat(depth);

/** Byte sequences that are not UTF-8: a lone continuation, a cut sequence, a surrogate, an overlong slash. */
export const notUtf8 = fc.constantFrom([0x80], [0xc3], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xff, 0xfe]).map((b) => Buffer.from(b));

/** `json` (JSON text holding `"@"` once) with bytes that are not UTF-8 in place of the `@`. */
export function withBadBytes(json: string): fc.Arbitrary<Buffer> {
  const at = json.indexOf('@');
  return notUtf8.map((bad) => Buffer.concat([Buffer.from(json.slice(0, at)), bad, Buffer.from(json.slice(at + 1))]));
}

/** `event` as JSON with `data.x` nested `depth` arrays deep. */
export const deepInData = (event: object, depth: number) =>
  Buffer.from(JSON.stringify({ ...event, data: { x: '$' } }).replace('"$"', nesting(depth, '0')));
