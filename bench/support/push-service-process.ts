/**
 * A minimal push service for the benchmark, run in its own process (`fork`) so that it does not
 * share an event loop with the sender being measured. Plain HTTP/1.1 on 127.0.0.1; answers every
 * POST with 201 and an empty body, as autopush/FCM do on success.
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

const sockets = new Set<Socket>();
const server = createServer({ noDelay: true }, (socket) => {
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
  serve(socket);
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
