import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import http2 from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, LookupFunction, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createWebPushSender, InvalidPushHeaderError, type PushSender } from '../../services/push-worker/web-push-sender.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('createWebPushSender', function () {
  let server: Server;
  let origin: string;
  let connections: Socket[] = [];
  let requests = 0;
  let inFlight = 0;
  let peakInFlight = 0;
  let sender: PushSender | undefined;

  /** Answers by path; every answer is a push service's (or a broken one's). */
  function answer(req: IncomingMessage, res: ServerResponse): void {
    requests++;
    inFlight++;
    peakInFlight = Math.max(peakInFlight, inFlight);
    res.on('close', () => inFlight--);
    switch (req.url) {
      case '/trickle': {
        // Headers at once, then a byte every 50 ms: an idle-socket timeout never fires. An
        // error's body is read for the log, so the deadline has to cut it short.
        res.writeHead(503, { 'content-type': 'text/plain' });
        const timer = setInterval(() => res.write('.'), 50);
        res.on('close', () => clearInterval(timer));
        return;
      }
      case '/slow':
        setTimeout(() => res.writeHead(201).end(), 150);
        return;
      case '/hang':
        return;
      case '/chunked':
        // No length: node sends the body in chunks.
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.write('bad ');
        setTimeout(() => res.end('request'), 10);
        return;
      case '/close':
        res.writeHead(201, { connection: 'close' }).end();
        return;
      case '/reset':
        res.socket!.write('HTTP/1.1 201 Created\r\nContent-Le');
        setTimeout(() => res.socket!.destroy(), 10);
        return;
      case '/garbage':
        res.socket!.end('SSH-2.0-OpenSSH_9.2\r\n\r\n');
        return;
      default:
        res.writeHead(201, { ttl: '60' }).end();
    }
  }

  before(async function () {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => answer(req, res));
    });
    // Node answers `Keep-Alive: timeout=3`; undici stops using an idle connection 2 s before
    // that (its keepAliveTimeoutThreshold), so after 1 s.
    server.keepAliveTimeout = 3_500;
    server.on('connection', (socket) => connections.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  beforeEach(function () {
    connections = [];
    requests = 0;
    inFlight = 0;
    peakInFlight = 0;
  });

  afterEach(async function () {
    await sender?.close({ abort: true });
    sender = undefined;
  });

  after(async function () {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const push = (path: string, headers: Record<string, string> = { ttl: '60' }) => ({
    endpoint: `${origin}${path}`,
    headers,
    body: Buffer.from('x'),
  });
  const make = (timeoutMs: number, connectionsPerOrigin: number) => {
    sender = createWebPushSender({ timeoutMs, connectionsPerOrigin });
    return sender;
  };
  const failureOf = (sending: Promise<unknown>) => sending.then(() => expect.fail('the send succeeded'), (err: unknown) => err);

  it('gives up on a push service that never finishes its answer, at the total deadline', async function () {
    const started = Date.now();
    const failure = await failureOf(make(300, 2).send(push('/trickle')));

    expect(failure).to.be.instanceOf(Error);
    expect((failure as Error).message).to.include('300 ms');
    expect(Date.now() - started).to.be.within(250, 1_500);
  });

  it('reuses kept-alive connections per origin instead of opening one per message', async function () {
    const send = make(2_000, 2).send;
    for (let i = 0; i < 20; i++) await Promise.all([send(push('/ok')), send(push('/ok'))]);

    expect(connections.length).to.be.at.most(2);
    expect(requests).to.equal(40);
  });

  it('opens at most connectionsPerOrigin connections; further sends wait for one and all are answered', async function () {
    const send = make(5_000, 3).send;

    const answers = await Promise.all(Array.from({ length: 12 }, () => send(push('/slow'))));

    expect(answers.map((a) => a.status)).to.deep.equal(Array(12).fill(201));
    expect(connections.length).to.equal(3);
    expect(peakInFlight).to.equal(3);
  });

  it('counts the wait for a connection in the deadline, and never sends a request whose deadline passed while it waited', async function () {
    // The first connection takes 500 ms to open (its address lookup answers late); the deadline is 300 ms.
    let lookups = 0;
    const slowLookup = ((_host: string, options: { all?: boolean }, callback: (err: null, ...answer: unknown[]) => void) => {
      const answer = () => (options.all ? callback(null, [{ address: '127.0.0.1', family: 4 }]) : callback(null, '127.0.0.1', 4));
      setTimeout(answer, lookups++ === 0 ? 500 : 0);
    }) as unknown as LookupFunction;
    sender = createWebPushSender({ timeoutMs: 300, connectionsPerOrigin: 1, lookup: slowLookup });
    const endpoint = `http://push.test:${new URL(origin).port}/ok`;
    const started = Date.now();

    const waited = await failureOf(sender.send({ endpoint, headers: { ttl: '60' }, body: Buffer.from('x') }));

    expect((waited as Error).message).to.include('300 ms');
    expect(Date.now() - started).to.be.within(250, 450);
    // A second send waits for the same connection (or opens one): it goes, the first one does not.
    const next = await sender.send({ endpoint, headers: { ttl: '60' }, body: Buffer.from('x') });
    expect(next.status).to.equal(201);
    await sleep(100);
    expect(requests).to.equal(1);
  });

  it('reads an error body sent in chunks, then uses the same connection again', async function () {
    const send = make(2_000, 1).send;

    const refused = await send(push('/chunked'));
    const next = await send(push('/ok'));

    expect(refused).to.include({ status: 400, text: 'bad request' });
    expect(next.status).to.equal(201);
    expect(next.headers['ttl']).to.equal('60');
    expect(connections).to.have.length(1);
  });

  it('does not send on a connection the server asked to close', async function () {
    const send = make(2_000, 1).send;
    for (let i = 0; i < 3; i++) expect((await send(push('/close'))).status).to.equal(201);

    expect(connections).to.have.length(3);
  });

  it("stops using an idle connection before the server's keep-alive timeout", async function () {
    const send = make(2_000, 1).send;
    await send(push('/ok'));
    await send(push('/ok'));
    expect(connections).to.have.length(1);

    // The server (timeout=3) still holds the connection; the sender no longer trusts it.
    await sleep(1_200);
    expect((await send(push('/ok'))).status).to.equal(201);

    expect(connections).to.have.length(2);
    expect(connections[0]!.destroyed, 'the old connection is closed').to.equal(true);
  });

  const brokenAnswers = [
    ['is cut mid-answer', '/reset'],
    ['carries something that is not HTTP/1.1', '/garbage'],
  ] as const;
  for (const [what, path] of brokenAnswers) {
    it(`rejects a send whose connection ${what}, and the next send opens a new connection`, async function () {
      const send = make(2_000, 1).send;

      const failure = await failureOf(send(push(path)));
      const next = await send(push('/ok'));

      expect(failure).to.be.instanceOf(Error);
      expect(next.status).to.equal(201);
      expect(connections).to.have.length(2);
    });
  }

  it('refuses a header undici would refuse, sends nothing, and the next send to that origin still goes at once', async function () {
    const send = make(2_000, 1).send;
    const hostile: Record<string, string>[] = [
      { topic: 'a\r\nx-evil: 1' },
      { 'bad name': 'x' },
      { ttl: 'a\nb' },
      { 'transfer-encoding': 'chunked' },
      { connection: 'upgrade' },
      { expect: '100-continue' },
      { 'content-length': '1, 2' },
    ];

    for (const headers of hostile) {
      const failure = await failureOf(send(push('/ok', headers)));
      expect(failure, JSON.stringify(headers)).to.be.instanceOf(InvalidPushHeaderError);
    }
    // undici 7.30 refusing such a request itself left the connection stuck: this send waited out
    // its deadline.
    const started = Date.now();
    expect((await send(push('/ok'))).status).to.equal(201);
    expect(Date.now() - started).to.be.below(1_000);
    expect(requests).to.equal(1);
  });

  it('close() waits for the sends under way; close({ abort }) ends them at once', async function () {
    const gentle = make(5_000, 2);
    const slow = gentle.send(push('/slow'));
    await gentle.close();
    expect((await slow).status).to.equal(201);

    const hurried = make(5_000, 2);
    const hung = failureOf(hurried.send(push('/hang')));
    const started = Date.now();
    await hurried.close({ abort: true });
    expect(await hung).to.be.instanceOf(Error);
    expect(Date.now() - started).to.be.below(1_000);
    expect(await failureOf(hurried.send(push('/ok')))).to.be.instanceOf(Error);
  });

  it('sends nothing to an IP-literal host whose address check answers only after close()', async function () {
    let answerLookup: (() => void) | undefined;
    // The address check of a literal host (127.0.0.1 here) answers when the test lets it.
    const lookup = ((_host: string, _options: unknown, callback: (err: null, address: string, family: number) => void) => {
      answerLookup = () => callback(null, '127.0.0.1', 4);
    }) as unknown as LookupFunction;
    sender = createWebPushSender({ timeoutMs: 5_000, connectionsPerOrigin: 2, lookup });
    const sending = failureOf(sender.send(push('/ok')));
    await sender.close();
    answerLookup!();

    expect(((await sending) as Error).message).to.equal('push sender is closed');
    expect(requests).to.equal(0);
  });
});

describe('createWebPushSender over HTTP/2 with prior knowledge', function () {
  let server: http2.Http2Server;
  let origin: string;
  const sessions = new Set<http2.ServerHttp2Session>();
  /** How the next streams are treated, in turn; then answered 201. */
  let treatments: ('goaway' | 'refuse' | 'hang')[] = [];
  let streams = 0;
  let sessionCount = 0;

  before(async function () {
    server = http2.createServer();
    server.on('session', (session) => {
      sessionCount++;
      sessions.add(session);
      session.once('close', () => sessions.delete(session));
    });
    server.on('stream', (stream) => {
      streams++;
      stream.on('error', () => undefined);
      stream.resume();
      stream.on('end', () => {
        const treatment = treatments.shift();
        if (treatment === 'goaway') {
          stream.session!.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id);
          stream.respond({ ':status': 201 }, { endStream: true });
        }
        else if (treatment === 'refuse') stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
        else if (treatment !== 'hang') stream.respond({ ':status': 201 }, { endStream: true });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  beforeEach(function () {
    treatments = [];
    streams = 0;
  });

  after(async function () {
    for (const session of sessions) session.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  const push = (path: string) => ({ endpoint: `${origin}${path}`, headers: { ttl: '60' }, body: Buffer.from('x') });

  it('sends again what the push service refused (REFUSED_STREAM), and what a GOAWAY left out, on a new connection', async function () {
    const sender = createWebPushSender({ timeoutMs: 5_000, connectionsPerOrigin: 4, http2: 'always' });
    try {
      treatments = ['refuse'];
      expect((await sender.send(push('/refused'))).status).to.equal(201);
      expect(streams).to.equal(2);

      // The first stream is answered after a GOAWAY that names it the last one processed: the
      // second, sent beside it, goes again on a connection of its own.
      const sessionsBefore = sessionCount;
      treatments = ['goaway'];
      const answers = await Promise.all([sender.send(push('/first')), sender.send(push('/second'))]);
      expect(answers.map((a) => a.status)).to.deep.equal([201, 201]);
      expect(sessionCount - sessionsBefore).to.equal(1);
    } finally {
      await sender.close();
    }
  });

  it('gives up after a few unprocessed attempts rather than looping', async function () {
    const sender = createWebPushSender({ timeoutMs: 5_000, connectionsPerOrigin: 4, http2: 'always' });
    try {
      treatments = Array(10).fill('refuse');
      const err = await sender.send(push('/p')).then(
        () => expect.fail('answered'),
        (e: Error) => e,
      );
      expect(err.message).to.match(/did not process the request: stream refused/);
      expect(streams).to.equal(4);
    } finally {
      await sender.close();
    }
  });

  it('close() waits for the sends under way; close({ abort }) ends them at once', async function () {
    const gentle = createWebPushSender({ timeoutMs: 5_000, connectionsPerOrigin: 4, http2: 'always' });
    treatments = ['hang'];
    const hung = gentle.send(push('/hang')).catch((e: Error) => e);
    while (streams < 1) await new Promise((resolve) => setTimeout(resolve, 5));
    const started = Date.now();
    await gentle.close({ abort: true });
    expect(await hung).to.be.instanceOf(Error);
    expect(Date.now() - started).to.be.below(1_000);

    const patient = createWebPushSender({ timeoutMs: 5_000, connectionsPerOrigin: 4, http2: 'always' });
    const sending = patient.send(push('/ok'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await patient.close();
    expect((await sending).status).to.equal(201);
    expect(await patient.send(push('/ok')).catch((e: Error) => e.message)).to.equal('push sender is closed');
  });
});

describe('createWebPushSender over TLS', function () {
  let dir: string;
  let cert: Buffer;
  let server: ReturnType<typeof createHttpsServer>;
  let key: Buffer;
  let origin: string;
  let handshakes = 0;
  let versions: string[] = [];

  before(async function () {
    // A throwaway CA-less certificate for 127.0.0.1, made here: no key is kept in the repository.
    dir = mkdtempSync(join(tmpdir(), 'axion-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    cert = readFileSync(join(dir, 'cert.pem'));
    key = readFileSync(join(dir, 'key.pem'));
    server = createHttpsServer({ key, cert }, (req, res) => {
      versions.push(req.httpVersion);
      req.resume();
      req.on('end', () => res.writeHead(201).end());
    });
    server.on('secureConnection', () => handshakes++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async function () {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const push = () => ({ endpoint: `${origin}/push/1`, headers: { ttl: '60' }, body: Buffer.from('x') });

  it('sends over TLS and pays a handshake per connection, not per message', async function () {
    const sender = createWebPushSender({ timeoutMs: 5_000, connectionsPerOrigin: 2, ca: cert });
    handshakes = 0;
    versions = [];
    try {
      for (let i = 0; i < 10; i++) expect((await sender.send(push())).status).to.equal(201);
    } finally {
      await sender.close();
    }
    // The push service chose HTTP/1.1 by ALPN: the connection it did so on is the pool's first.
    expect(handshakes).to.be.within(1, 2);
    expect(versions).to.deep.equal(Array(10).fill('1.1'));
  });

  /** An HTTP/2 push service over TLS, that also speaks HTTP/1.1 to a client that asks for it. */
  async function startHttp2Service(): Promise<{ origin: string; versions: string[]; handshakes: () => number; close(): Promise<void> }> {
    const seen: string[] = [];
    let count = 0;
    const h2 = http2.createSecureServer({ key, cert, allowHTTP1: true }, (req, res) => {
      seen.push(req.httpVersion);
      req.resume();
      req.on('end', () => {
        res.writeHead(201);
        res.end();
      });
    });
    h2.on('secureConnection', () => count++);
    const sessions = new Set<http2.ServerHttp2Session>();
    h2.on('session', (session) => sessions.add(session));
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    return {
      origin: `https://127.0.0.1:${(h2.address() as AddressInfo).port}`,
      versions: seen,
      handshakes: () => count,
      close: async () => {
        for (const session of sessions) session.destroy();
        await new Promise((resolve) => h2.close(resolve));
      },
    };
  }

  it('speaks HTTP/2 to a push service that offers it by ALPN: one connection for many sends at once', async function () {
    const service = await startHttp2Service();
    const sender = createWebPushSender({ timeoutMs: 5_000, connectionsPerOrigin: 8, ca: cert });
    try {
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, i) => sender.send({ endpoint: `${service.origin}/push/${i}`, headers: { ttl: '60' }, body: Buffer.from('x') })),
      );
      expect(answers.map((a) => a.status)).to.deep.equal(Array(30).fill(201));
      expect(service.versions).to.deep.equal(Array(30).fill('2.0'));
      expect(service.handshakes()).to.equal(1);
    } finally {
      await sender.close();
      await service.close();
    }
  });

  it('with http2 off never offers HTTP/2; with always refuses a push service without it', async function () {
    const service = await startHttp2Service();
    const off = createWebPushSender({ timeoutMs: 5_000, connectionsPerOrigin: 2, ca: cert, http2: 'off' });
    const always = createWebPushSender({ timeoutMs: 5_000, connectionsPerOrigin: 2, ca: cert, http2: 'always' });
    try {
      expect((await off.send({ endpoint: `${service.origin}/p`, headers: {}, body: Buffer.from('x') })).status).to.equal(201);
      expect(service.versions).to.deep.equal(['1.1']);
      const err = await always.send(push()).then(
        () => expect.fail('sent over HTTP/1.1 though HTTP/2 was required'),
        (e: Error) => e,
      );
      expect(err.message).to.match(/does not offer HTTP\/2/);
    } finally {
      await off.close();
      await always.close();
      await service.close();
    }
  });

  it('refuses a push service whose certificate it cannot verify', async function () {
    const sender = createWebPushSender({ timeoutMs: 5_000, connectionsPerOrigin: 1 });
    try {
      const err = await sender.send(push()).then(() => expect.fail('sent to an unverified server'), (e: unknown) => e);
      expect((err as NodeJS.ErrnoException).code).to.match(/CERT|SELF_SIGNED/);
    } finally {
      await sender.close();
    }
  });
});
