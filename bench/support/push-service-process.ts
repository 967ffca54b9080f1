/**
 * A minimal push service for the benchmark, run in its own process (`fork`) so that it does not
 * share an event loop with the sender being measured. Plain HTTP on 127.0.0.1; answers every
 * POST with 201 and an empty body, as autopush/FCM do on success.
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
import { createServer } from 'node:http';
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

const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const chunks: Buffer[] = [];
  const keep = sampleEvery > 0 && received % sampleEvery === 0;
  req.on('data', (c: Buffer) => {
    if (keep) chunks.push(c);
  });
  req.on('end', () => {
    const at = now();
    received++;
    if (firstAt === 0) firstAt = at;
    lastAt = at;
    const path = req.url ?? '/';
    paths.add(path);
    if (keep) {
      samples.push({
        path,
        authorization: String(req.headers['authorization'] ?? ''),
        headers: { ...req.headers },
        body: Buffer.concat(chunks).toString('base64'),
      });
    }
    res.writeHead(201, { 'content-length': '0' }).end();
    if (!reachedSent && paths.size >= target) {
      reachedSent = true;
      process.send?.({ type: 'reached', at, count: received });
    }
  });
});
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;
server.requestTimeout = 0;

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
  server.closeAllConnections();
  server.close();
  process.exit(0);
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.send?.({ type: 'listening', origin: `http://127.0.0.1:${port}` });
});
