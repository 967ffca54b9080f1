/**
 * HPACK (RFC 7541) for the push worker's HTTP/2 client. Requests are encoded without the
 * dynamic table (literal fields, no Huffman): a push request's headers differ per message, and
 * the encoder then keeps no state to get wrong. Answers are decoded in full, since a push
 * service may use every form the RFC allows.
 */

export type HeaderList = [name: string, value: string][];

/** A header block we cannot decode: the connection's compression state is lost (COMPRESSION_ERROR). */
export class HpackError extends Error {
  constructor(message: string) {
    super(`HPACK: ${message}`);
    this.name = 'HpackError';
  }
}

/** RFC 7541 Appendix A. */
const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/** 1-based static index of a header name (its first entry), for literal fields with an indexed name. */
const STATIC_NAME_INDEX = new Map<string, number>();
STATIC_TABLE.forEach(([name], i) => {
  if (!STATIC_NAME_INDEX.has(name)) STATIC_NAME_INDEX.set(name, i + 1);
});

/**
 * The bit length of each symbol's code (RFC 7541 Appendix B), symbols 0–255 and EOS (256). The
 * code is canonical: codes are assigned in order of length, and by symbol within a length, so
 * the lengths are the whole table.
 */
// prettier-ignore
const HUFFMAN_CODE_LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

const EOS = 256;

/**
 * The Huffman code as a binary tree in one array: node n's children are at [2n] (bit 0) and
 * [2n + 1] (bit 1); a child ≥ 0 is another node, a child < 0 is the leaf of symbol -child - 1.
 */
const HUFFMAN_TREE = buildHuffmanTree(HUFFMAN_CODE_LENGTHS);

function buildHuffmanTree(lengths: readonly number[]): Int32Array {
  const order = lengths.map((length, symbol) => ({ length, symbol })).sort((a, b) => a.length - b.length || a.symbol - b.symbol);
  const tree = new Int32Array(2 * lengths.length).fill(0);
  let nodes = 1;
  let code = 0;
  let previousLength = order[0]!.length;
  for (const { length, symbol } of order) {
    code *= 2 ** (length - previousLength);
    previousLength = length;
    let node = 0;
    for (let bit = length - 1; bit > 0; bit--) {
      const slot = 2 * node + (Math.floor(code / 2 ** bit) & 1);
      if (tree[slot] === 0) tree[slot] = nodes++;
      node = tree[slot]!;
    }
    tree[2 * node + (code & 1)] = -symbol - 1;
    code++;
  }
  return tree;
}

/** Decodes a Huffman-coded string (RFC 7541 §5.2) as Latin-1, one character per octet. */
export function huffmanDecode(data: Uint8Array, start: number, end: number): string {
  let out = '';
  let node = 0;
  // Bits read since the last complete symbol, and whether they were all ones: the padding
  // must be a prefix of EOS, shorter than an octet.
  let pending = 0;
  let allOnes = true;
  for (let i = start; i < end; i++) {
    const octet = data[i]!;
    for (let bit = 7; bit >= 0; bit--) {
      const b = (octet >> bit) & 1;
      const next = HUFFMAN_TREE[2 * node + b]!;
      pending++;
      allOnes &&= b === 1;
      if (next < 0) {
        const symbol = -next - 1;
        if (symbol === EOS) throw new HpackError('EOS in a Huffman-coded string');
        out += String.fromCharCode(symbol);
        node = 0;
        pending = 0;
        allOnes = true;
      } else {
        node = next;
      }
    }
  }
  if (pending > 7 || !allOnes) throw new HpackError('bad padding in a Huffman-coded string');
  return out;
}

/** The space an entry takes in the dynamic table (RFC 7541 §4.1); our strings are Latin-1, one character per octet. */
const entrySize = (name: string, value: string) => name.length + value.length + 32;

/** Decodes header blocks of one connection: the dynamic table lives as long as the connection. */
export class HpackDecoder {
  /** Newest first. */
  private readonly dynamic: [string, string][] = [];
  private size = 0;
  private maxSize: number;

  /** `maxTableSize`: what we announced as SETTINGS_HEADER_TABLE_SIZE (4096 by default). */
  constructor(private readonly maxTableSize = 4096) {
    this.maxSize = maxTableSize;
  }

  decode(block: Uint8Array): HeaderList {
    const fields: HeaderList = [];
    const cursor = { at: 0 };
    let fieldSeen = false;
    while (cursor.at < block.length) {
      const first = block[cursor.at]!;
      if (first & 0x80) {
        fields.push(this.entry(readInteger(block, cursor, 7)));
      } else if (first & 0x40) {
        const field = this.literal(block, cursor, 6);
        this.insert(field[0], field[1]);
        fields.push(field);
      } else if (first & 0x20) {
        // §4.2: a size update comes only before the first field of a block.
        if (fieldSeen) throw new HpackError('dynamic table size update after a field');
        const size = readInteger(block, cursor, 5);
        if (size > this.maxTableSize) throw new HpackError(`table size ${size} above the ${this.maxTableSize} allowed`);
        this.maxSize = size;
        this.evict(0);
        continue;
      } else {
        // Literal without indexing (0000) or never indexed (0001): the same for a decoder.
        fields.push(this.literal(block, cursor, 4));
      }
      fieldSeen = true;
    }
    return fields;
  }

  private entry(index: number): [string, string] {
    if (index === 0) throw new HpackError('index 0');
    if (index <= STATIC_TABLE.length) {
      const [name, value] = STATIC_TABLE[index - 1]!;
      return [name, value];
    }
    const entry = this.dynamic[index - STATIC_TABLE.length - 1];
    if (!entry) throw new HpackError(`index ${index} beyond the tables`);
    return [entry[0], entry[1]];
  }

  private literal(block: Uint8Array, cursor: { at: number }, prefix: number): [string, string] {
    const index = readInteger(block, cursor, prefix);
    const name = index === 0 ? readString(block, cursor) : this.entry(index)[0];
    return [name, readString(block, cursor)];
  }

  private insert(name: string, value: string): void {
    const size = entrySize(name, value);
    this.evict(size);
    // §4.4: an entry larger than the whole table empties it and is not added.
    if (size > this.maxSize) return;
    this.dynamic.unshift([name, value]);
    this.size += size;
  }

  /** Evicts the oldest entries until `room` more octets fit. */
  private evict(room: number): void {
    while (this.dynamic.length > 0 && this.size + room > this.maxSize) {
      const [name, value] = this.dynamic.pop()!;
      this.size -= entrySize(name, value);
    }
  }
}

/** RFC 7541 §5.1. Values past 2^28 are refused: no header needs them, and they could overflow. */
function readInteger(data: Uint8Array, cursor: { at: number }, prefix: number): number {
  if (cursor.at >= data.length) throw new HpackError('truncated integer');
  const mask = (1 << prefix) - 1;
  let value = data[cursor.at++]! & mask;
  if (value < mask) return value;
  for (let shift = 0; ; shift += 7) {
    if (cursor.at >= data.length) throw new HpackError('truncated integer');
    if (shift > 21) throw new HpackError('integer too large');
    const octet = data[cursor.at++]!;
    value += (octet & 0x7f) * 2 ** shift;
    if ((octet & 0x80) === 0) return value;
  }
}

function readString(data: Uint8Array, cursor: { at: number }): string {
  if (cursor.at >= data.length) throw new HpackError('truncated string');
  const huffman = (data[cursor.at]! & 0x80) !== 0;
  const length = readInteger(data, cursor, 7);
  const start = cursor.at;
  const end = start + length;
  if (end > data.length) throw new HpackError('truncated string');
  cursor.at = end;
  return huffman ? huffmanDecode(data, start, end) : latin1(data, start, end);
}

const latin1 = (data: Uint8Array, start: number, end: number) =>
  Buffer.from(data.buffer, data.byteOffset + start, end - start).toString('latin1');

/**
 * The fields every request of a connection starts with: `:method: POST` and `:scheme` from the
 * static table (indexed, one octet each), `:authority` as a literal. As Latin-1 text, one
 * character per octet, like `encodeRequest`.
 */
export function encodeRequestPrefix(scheme: 'http' | 'https', authority: string): string {
  const method = String.fromCharCode(0x80 | 3); // :method: POST
  const schemeField = String.fromCharCode(0x80 | (scheme === 'https' ? 7 : 6));
  // :authority, name by index (1), without indexing.
  return method + schemeField + integerText(1, 4) + stringText(authority);
}

/**
 * A POST's header block as Latin-1 text, one character per octet (built as a string, it goes
 * into the frame in one write): `prefix` (see `encodeRequestPrefix`), `:path`, then `headers`
 * and `content-length` as literal fields without indexing (§6.2.2), static-table names by index,
 * plain strings. Names are lowercased (RFC 9113 §8.2.1); values must be Latin-1, as HTTP/1.1
 * allows. A `content-length` among `headers` is left out: the body's own length is sent.
 */
export function encodeRequest(prefix: string, path: string, headers: Record<string, string>, contentLength: number): string {
  let block = prefix + integerText(4, 4) + stringText(path);
  for (const raw in headers) {
    const name = raw.toLowerCase();
    if (name === 'content-length') continue;
    const index = STATIC_NAME_INDEX.get(name);
    block += index === undefined ? '\x00' + stringText(name) : integerText(index, 4);
    block += stringText(headers[raw]!);
  }
  return block + integerText(28, 4) + stringText(String(contentLength));
}

/** §5.1 with the first octet's flags 0, as text. */
function integerText(value: number, prefix: number): string {
  const mask = (1 << prefix) - 1;
  if (value < mask) return String.fromCharCode(value);
  let text = String.fromCharCode(mask);
  let rest = value - mask;
  while (rest >= 0x80) {
    text += String.fromCharCode((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  return text + String.fromCharCode(rest);
}

/** §5.2, not Huffman-coded. */
const stringText = (value: string) => integerText(value.length, 7) + value;
