/**
 * A minimal push service for the benchmark, run in its own process (`fork`) so that it does not
 * share an event loop with the sender being measured. Plain HTTP on 127.0.0.1, HTTP/1.1 or HTTP/2
 * with prior knowledge (told apart by the HTTP/2 preface); answers every POST with 201 and an
 * empty body, as autopush/FCM do on success.
 *
 * A real push service runs on other machines; here it shares the two cores with the sender, and
 * the sender's crypto runs measurably slower while the other core is busy (docs/performance.md).
 * So it is written on node:net with a parser for exactly what a Web Push sender sends (keep-alive,
 * Content-Length bodies, pipelining): a fraction of node:http's CPU per request.
 *
 * It does no decryption (that would make the receiver, not the sender, the bottleneck); instead it
 * keeps a small sample of requests that the parent decrypts and verifies afterwards.
 *
 * IPC protocol (parent → child):
 *   { type: 'reset', target, sampleEvery }  start a new run: counters to zero, report when
 *                                           `target` distinct paths have been received
 *   { type: 'stats' }                       reply with { type: 'stats', ... }
 * child → parent:
 *   { type: 'listening', origin }
 *   { type: 'reached', at, count }          `at` = wall-clock ms (performance.timeOrigin based)
 *   { type: 'stats', received, distinct, firstAt, lastAt, samples, cpu }
 */
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { HpackDecoder } from '../../services/push-worker/hpack.js';

interface Sample {
  path: string;
  authorization: string;
  headers: Record<string, string | string[] | undefined>;
  body: string; // base64
}

const now = () => performance.timeOrigin + performance.now();

let received = 0;
let target = Number.POSITIVE_INFINITY;
let sampleEvery = 0;
let reachedSent = false;
let firstAt = 0;
let lastAt = 0;
let paths = new Set<string>();
let samples: Sample[] = [];

const CREATED = 'HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n';
const HEAD_END = Buffer.from('\r\n\r\n');
const MAX_HEAD = 16 * 1024;
// A Web Push body is at most 4096 bytes (RFC 8030 §7.2); a little room for a sender's mistake.
const MAX_BODY = 64 * 1024;

/** A request's head: what the counting and the samples need. */
interface Head {
  path: string;
  headers: Record<string, string>;
  bodyLength: number;
  close: boolean;
}

/** Parses one HTTP/1.1 request head, or names what is wrong with it. */
function parseHead(text: string): Head | string {
  const lines = text.split('\r\n');
  const [method, path, version] = lines[0]!.split(' ');
  if (method !== 'POST' || !path?.startsWith('/') || version !== 'HTTP/1.1') return `bad request line ${JSON.stringify(lines[0])}`;
  const headers: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i]!.indexOf(':');
    if (colon <= 0) return `bad header line ${JSON.stringify(lines[i])}`;
    headers[lines[i]!.slice(0, colon).toLowerCase()] = lines[i]!.slice(colon + 1).trim();
  }
  // Every sender here sends a Content-Length (a Web Push body is one aes128gcm record).
  if (headers['transfer-encoding'] !== undefined || !/^\d+$/.test(headers['content-length'] ?? '')) return 'no Content-Length';
  return { path, headers, bodyLength: Number(headers['content-length']), close: headers['connection']?.toLowerCase() === 'close' };
}

/** Counts one request (and keeps it as a sample when its body is given). */
function countRequest(head: Head, body: Buffer | undefined): void {
  const at = now();
  if (body) {
    samples.push({ path: head.path, authorization: head.headers['authorization'] ?? '', headers: head.headers, body: body.toString('base64') });
  }
  received++;
  if (firstAt === 0) firstAt = at;
  lastAt = at;
  paths.add(head.path);
  if (!reachedSent && paths.size >= target) {
    reachedSent = true;
    process.send?.({ type: 'reached', at, count: received });
  }
}

/**
 * One keep-alive connection: requests may arrive pipelined or split across reads; the answers to
 * everything in one read leave in one write.
 */
function serve(socket: Socket): void {
  let pending: Buffer | undefined;
  let head: Head | undefined;
  let closing = false;
  socket.on('data', (chunk: Buffer) => {
    if (closing) return;
    let data = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    let answers = '';
    // Answers what came before, then the refusal; nothing after it on this connection is read.
    const refuse = (why: string) => {
      closing = true;
      process.stderr.write(`[push service] ${why}; connection closed\n`);
      socket.end(`${answers}HTTP/1.1 400 Bad Request\r\ncontent-length: ${Buffer.byteLength(why)}\r\nconnection: close\r\n\r\n${why}`);
    };
    while (true) {
      if (!head) {
        const end = data.indexOf(HEAD_END);
        if (end < 0) {
          if (data.length > MAX_HEAD) return refuse('request head too large');
          break;
        }
        const parsed = parseHead(data.toString('latin1', 0, end));
        if (typeof parsed === 'string') return refuse(parsed);
        if (parsed.bodyLength > MAX_BODY) return refuse(`body of ${parsed.bodyLength} bytes`);
        head = parsed;
        data = data.subarray(end + HEAD_END.length);
      }
      if (data.length < head.bodyLength) break;
      const keep = sampleEvery > 0 && received % sampleEvery === 0;
      countRequest(head, keep ? Buffer.from(data.subarray(0, head.bodyLength)) : undefined);
      answers += CREATED;
      data = data.subarray(head.bodyLength);
      const close = head.close;
      head = undefined;
      if (close) {
        closing = true;
        socket.end(answers);
        return;
      }
    }
    if (data.length > 0) pending = Buffer.from(data);
    if (answers) socket.write(answers);
  });
  socket.on('error', () => socket.destroy());
}

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** SETTINGS: MAX_CONCURRENT_STREAMS 1000, as the big push services allow about that many. */
const H2_SETTINGS = Buffer.from([0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0x03, 0xe8]);
const H2_SETTINGS_ACK = Buffer.from([0, 0, 0, 4, 1, 0, 0, 0, 0]);
/** `:status: 201` as a literal with the static table's name (index 8), no indexing. */
const H2_CREATED_BLOCK = Buffer.from([0x08, 3, 0x32, 0x30, 0x31]);

/**
 * One HTTP/2 connection with prior knowledge (what `PUSH_HTTP2=always` sends to an http://
 * endpoint): frames as a Web Push sender sends them; the answers to everything in one read leave
 * in one write, with one WINDOW_UPDATE giving the connection its window back.
 */
function serveHttp2(socket: Socket, first: Buffer): void {
  const decoder = new HpackDecoder();
  const streams = new Map<number, { head: Head; body: Buffer[]; length: number }>();
  let pending: Buffer | undefined = first.subarray(H2_PREFACE.length);
  let closing = false;
  socket.write(H2_SETTINGS);
  const refuse = (why: string) => {
    closing = true;
    process.stderr.write(`[push service] ${why}; connection closed\n`);
    socket.destroy();
  };
  const onData = (chunk: Buffer | undefined) => {
    if (closing) return;
    let data = pending && chunk ? Buffer.concat([pending, chunk]) : (pending ?? chunk!);
    pending = undefined;
    const out: Buffer[] = [];
    let consumed = 0;
    while (data.length >= 9) {
      const length = data.readUIntBE(0, 3);
      if (data.length < 9 + length) break;
      const type = data[3]!;
      const flags = data[4]!;
      const id = data.readUInt32BE(5) & 0x7fffffff;
      const payload = data.subarray(9, 9 + length);
      data = data.subarray(9 + length);
      if (type === 4 && (flags & 1) === 0) out.push(H2_SETTINGS_ACK);
      else if (type === 1) {
        if ((flags & 0x04) === 0 || (flags & 0x28) !== 0) return refuse('HEADERS split, padded or with priority');
        const headers: Record<string, string> = {};
        for (const [name, value] of decoder.decode(payload)) headers[name] = value;
        if (headers[':method'] !== 'POST' || !headers[':path']?.startsWith('/')) return refuse('not a POST');
        if (!/^\d+$/.test(headers['content-length'] ?? '')) return refuse('no content-length');
        const head: Head = { path: headers[':path'], headers, bodyLength: Number(headers['content-length']), close: false };
        if (head.bodyLength > MAX_BODY) return refuse(`body of ${head.bodyLength} bytes`);
        streams.set(id, { head, body: [], length: 0 });
      } else if (type === 0) {
        consumed += length;
        const stream = streams.get(id);
        if (!stream) return refuse(`DATA on unknown stream ${id}`);
        stream.body.push(payload);
        stream.length += payload.length;
        if (flags & 1) {
          streams.delete(id);
          if (stream.length !== stream.head.bodyLength) return refuse('body length differs from content-length');
          const keep = sampleEvery > 0 && received % sampleEvery === 0;
          countRequest(stream.head, keep ? Buffer.concat(stream.body) : undefined);
          const answer = Buffer.alloc(9 + H2_CREATED_BLOCK.length);
          answer.writeUIntBE(H2_CREATED_BLOCK.length, 0, 3);
          answer[3] = 1;
          answer[4] = 0x05;
          answer.writeUInt32BE(id, 5);
          H2_CREATED_BLOCK.copy(answer, 9);
          out.push(answer);
        }
      } else if (type === 6 && (flags & 1) === 0) {
        out.push(Buffer.concat([Buffer.from([0, 0, 8, 6, 1, 0, 0, 0, 0]), payload]));
      } else if (type === 7) {
        closing = true;
        socket.end();
        return;
      }
    }
    if (consumed > 0) {
      const update = Buffer.alloc(13);
      update.writeUIntBE(4, 0, 3);
      update[3] = 8;
      update.writeUInt32BE(consumed, 9);
      out.push(update);
    }
    if (data.length > 0) pending = Buffer.from(data);
    if (out.length > 0) socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
  };
  socket.on('data', onData);
  onData(undefined);
}

const sockets = new Set<Socket>();
const server = createServer({ noDelay: true }, (socket) => {
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
  socket.on('error', () => socket.destroy());
  // HTTP/2 with prior knowledge starts with its preface; anything else is HTTP/1.1.
  let start: Buffer = Buffer.alloc(0);
  const sniff = (chunk: Buffer) => {
    start = Buffer.concat([start, chunk]);
    if (start.length < H2_PREFACE.length && H2_PREFACE.subarray(0, start.length).equals(start)) return;
    socket.off('data', sniff);
    if (start.subarray(0, H2_PREFACE.length).equals(H2_PREFACE)) serveHttp2(socket, start);
    else {
      serve(socket);
      socket.emit('data', start);
    }
  };
  socket.on('data', sniff);
});

process.on('message', (msg: { type: string; target?: number; sampleEvery?: number }) => {
  if (msg.type === 'reset') {
    received = 0;
    firstAt = 0;
    lastAt = 0;
    paths = new Set();
    samples = [];
    reachedSent = false;
    target = msg.target ?? Number.POSITIVE_INFINITY;
    sampleEvery = msg.sampleEvery ?? 0;
    process.send?.({ type: 'reset-done' });
  } else if (msg.type === 'stats') {
    process.send?.({
      type: 'stats',
      received,
      distinct: paths.size,
      firstAt,
      lastAt,
      samples,
      cpu: process.cpuUsage(),
    });
  }
});
// The parent going away (crash, Ctrl-C) must not leave this process behind.
process.on('disconnect', () => {
  for (const socket of sockets) socket.destroy();
  server.close();
  process.exit(0);
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.send?.({ type: 'listening', origin: `http://127.0.0.1:${port}` });
});
