import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import { expect } from 'chai';
import {
  Http2Connection,
  Http2ConnectionError,
  UnprocessedRequestError,
} from '../../services/push-worker/http2-connection.js';

const { NGHTTP2_REFUSED_STREAM, NGHTTP2_CANCEL, NGHTTP2_NO_ERROR } = http2.constants;

/** Every test's peer is node:http2 (nghttp2): an implementation independent of ours. */
describe('Http2Connection against node:http2', function () {
  this.timeout(10_000);
  let server: http2.Http2Server;
  let port: number;
  const sessions = new Set<http2.ServerHttp2Session>();
  const connections: Http2Connection[] = [];
  let onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void;

  async function start(settings: http2.Settings = {}): Promise<void> {
    server = http2.createServer({ settings });
    server.on('session', (session) => {
      sessions.add(session);
      session.once('close', () => sessions.delete(session));
    });
    server.on('stream', (stream, headers) => onStream(stream, headers));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  }

  async function connect(options: { idleTimeoutMs?: number } = {}): Promise<Http2Connection> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const connection = new Http2Connection(socket, `127.0.0.1:${port}`, 'http', options);
    connections.push(connection);
    return connection;
  }

  /** The stream's body, then `answer` with it. */
  function reading(answer: (stream: http2.ServerHttp2Stream, body: Buffer, headers: http2.IncomingHttpHeaders) => void) {
    return (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
      // A stream the client cancels or the server refuses errors here: that is the test's point.
      stream.on('error', () => undefined);
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => answer(stream, Buffer.concat(chunks), headers));
    };
  }

  afterEach(async function () {
    for (const c of connections.splice(0)) c.destroy();
    for (const s of sessions) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  const rejection = (p: Promise<unknown>) =>
    p.then(
      () => expect.fail('expected a rejection'),
      (e: unknown) => e as Error,
    );

  it('sends a POST with its headers and body, and reads the status, headers and an error body', async function () {
    await start();
    const seen: http2.IncomingHttpHeaders[] = [];
    onStream = reading((stream, body, headers) => {
      seen.push(headers);
      if (headers[':path'] === '/gone') {
        stream.respond({ ':status': 410, 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] });
        stream.end(`no such subscription (${body.length} octets)`);
      } else {
        stream.respond({ ':status': 201, ttl: '60', location: 'https://push.example/m/1' }, { endStream: true });
      }
    });
    const connection = await connect();
    const body = Buffer.alloc(3000, 7);
    const headers = { TTL: '60', 'content-encoding': 'aes128gcm', urgency: 'high', 'content-length': '3000' };
    const created = await connection.request('/push/1?x=1', headers, body, 2_000);
    expect(created.status).to.equal(201);
    expect(created.headers).to.include({ ttl: '60', location: 'https://push.example/m/1' });
    expect(created.text).to.equal('');
    const gone = await connection.request('/gone', headers, body, 2_000);
    expect(gone.status).to.equal(410);
    expect(gone.headers['set-cookie']).to.deep.equal(['a=1', 'b=2']);
    expect(gone.text).to.equal('no such subscription (3000 octets)');
    expect(seen[0]).to.include({
      ':method': 'POST',
      ':scheme': 'http',
      ':authority': `127.0.0.1:${port}`,
      ':path': '/push/1?x=1',
      ttl: '60',
      'content-encoding': 'aes128gcm',
      urgency: 'high',
      'content-length': '3000',
    });
  });

  it("decodes every header value nghttp2 sends, Huffman-coded or not, through the dynamic table's evictions", async function () {
    await start();
    // Each printable character (and tab) after a run of 'a': short codes make nghttp2 choose
    // Huffman for every value, so each character's code is decoded at least once.
    const symbols = ['\t', ...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i))];
    const values = symbols.map((symbol) => `${'a'.repeat(24)}${symbol}${'0'.repeat(8)}`);
    onStream = reading((stream, _body, headers) => {
      const round = Number(headers['x-round']);
      // Values change per round: the table fills with new entries and evicts old ones (4096 octets).
      const answer: http2.OutgoingHttpHeaders = { ':status': 202 };
      values.forEach((value, i) => (answer[`x-v${i}`] = `${value}${round % 3}`));
      stream.respond(answer, { endStream: true });
    });
    const connection = await connect();
    for (let round = 0; round < 12; round++) {
      const { status, headers } = await connection.request('/h', { 'x-round': String(round) }, Buffer.from('x'), 2_000);
      expect(status).to.equal(202);
      values.forEach((value, i) => expect(headers[`x-v${i}`], `round ${round}, value ${i}`).to.equal(`${value}${round % 3}`));
    }
  });

  it("keeps to the server's limit on concurrent streams and answers every request", async function () {
    await start({ maxConcurrentStreams: 5 });
    let open = 0;
    let peak = 0;
    onStream = reading((stream) => {
      open++;
      peak = Math.max(peak, open);
      setTimeout(() => {
        open--;
        stream.respond({ ':status': 201 }, { endStream: true });
      }, 5);
    });
    const connection = await connect();
    // The server's SETTINGS come with its first frames: until then the limit is unknown.
    await connection.request('/first', {}, Buffer.from('x'), 2_000);
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) => connection.request(`/p/${i}`, {}, Buffer.from('x'), 5_000)),
    );
    expect(answers.every((a) => a.status === 201)).to.equal(true);
    expect(peak).to.equal(5);
  });

  it('sends bodies larger than the flow-control windows as the server opens them', async function () {
    // A 1000-octet stream window, and 40 bodies of 4000 against the connection's 65,535.
    await start({ initialWindowSize: 1000 });
    onStream = reading((stream, body) => stream.respond({ ':status': 201, 'x-sum': String(sum(body)) }, { endStream: true }));
    const connection = await connect();
    const bodies = Array.from({ length: 40 }, (_, i) => Buffer.alloc(4000, i + 1));
    const answers = await Promise.all(bodies.map((body, i) => connection.request(`/big/${i}`, {}, body, 5_000)));
    answers.forEach((answer, i) => expect(answer.headers['x-sum'], `body ${i}`).to.equal(String(sum(bodies[i]!))));
  });

  it('cancels a stream at its deadline and, while the push service still answers others, keeps the connection', async function () {
    await start();
    const closedWith: number[] = [];
    onStream = reading((stream, _body, headers) => {
      if (headers[':path'] === '/hang') stream.on('close', () => closedWith.push(stream.rstCode));
      else setTimeout(() => stream.respond({ ':status': 201 }, { endStream: true }), 50);
    });
    const connection = await connect();
    await connection.request('/ok', {}, Buffer.from('x'), 2_000);
    const started = Date.now();
    const hanging = rejection(connection.request('/hang', {}, Buffer.from('x'), 200));
    expect((await connection.request('/ok', {}, Buffer.from('x'), 2_000)).status).to.equal(201);
    const err = await hanging;
    expect(err.message).to.match(/no complete answer within 200 ms/);
    expect(Date.now() - started).to.be.below(1_000);
    expect(connection.available).to.equal(true);
    expect((await connection.request('/ok', {}, Buffer.from('x'), 2_000)).status).to.equal(201);
    expect(closedWith).to.deep.equal([NGHTTP2_CANCEL]);
  });

  it('sends the requests still waiting for a stream elsewhere at once when closed', async function () {
    await start({ maxConcurrentStreams: 1 });
    onStream = reading((stream) => setTimeout(() => stream.respond({ ':status': 201 }, { endStream: true }), 200));
    const connection = await connect();
    await connection.request('/first', {}, Buffer.from('x'), 2_000);
    const inFlight = connection.request('/in-flight', {}, Buffer.from('x'), 2_000);
    const waiting = rejection(connection.request('/waiting', {}, Buffer.from('x'), 2_000));
    const started = Date.now();
    const closing = connection.close();
    expect(await waiting).to.be.instanceOf(UnprocessedRequestError);
    expect(Date.now() - started).to.be.below(100);
    expect((await inFlight).status).to.equal(201);
    await closing;
  });

  it('rejects the streams a GOAWAY left out as unprocessed, and finishes the others', async function () {
    await start();
    const waiting: http2.ServerHttp2Stream[] = [];
    onStream = reading((stream) => waiting.push(stream));
    const connection = await connect();
    const sends = Array.from({ length: 4 }, (_, i) =>
      connection.request(`/p/${i}`, {}, Buffer.from('x'), 5_000).then(
        (answer) => answer.status,
        (err: Error) => err,
      ),
    );
    while (waiting.length < 4) await new Promise((resolve) => setTimeout(resolve, 5));
    // Streams 1 and 3 are processed; 5 and 7 are not.
    waiting[0]!.session!.goaway(NGHTTP2_NO_ERROR, 3);
    waiting[0]!.respond({ ':status': 201 }, { endStream: true });
    waiting[1]!.respond({ ':status': 201 }, { endStream: true });
    const outcomes = await Promise.all(sends);
    expect(outcomes.slice(0, 2)).to.deep.equal([201, 201]);
    expect(outcomes[2]).to.be.instanceOf(UnprocessedRequestError);
    expect(outcomes[3]).to.be.instanceOf(UnprocessedRequestError);
    expect(connection.available).to.equal(false);
    expect(await rejection(connection.request('/late', {}, Buffer.from('x'), 1_000))).to.be.instanceOf(UnprocessedRequestError);
  });

  it('rejects a refused stream as unprocessed, and a reset one as a failure', async function () {
    await start();
    onStream = reading((stream, _body, headers) => stream.close(headers[':path'] === '/refuse' ? NGHTTP2_REFUSED_STREAM : 2));
    const connection = await connect();
    expect(await rejection(connection.request('/refuse', {}, Buffer.from('x'), 2_000))).to.be.instanceOf(UnprocessedRequestError);
    const reset = await rejection(connection.request('/reset', {}, Buffer.from('x'), 2_000));
    expect(reset).to.be.instanceOf(Http2ConnectionError);
    expect(reset.message).to.match(/reset the stream \(HTTP\/2 error 2\)/);
    expect(connection.available).to.equal(true);
  });

  it('fails the requests under way when the server drops the connection', async function () {
    await start();
    onStream = reading((stream) => stream.session!.destroy());
    const connection = await connect();
    expect(await rejection(connection.request('/p', {}, Buffer.from('x'), 2_000))).to.be.instanceOf(Http2ConnectionError);
    expect(connection.available).to.equal(false);
  });

  it("answers the server's PING", async function () {
    await start();
    onStream = reading((stream) => stream.respond({ ':status': 201 }, { endStream: true }));
    const connection = await connect();
    await connection.request('/p', {}, Buffer.from('x'), 2_000);
    const [session] = sessions;
    const rtt = await new Promise<number>((resolve, reject) =>
      session!.ping((err, duration) => (err ? reject(err) : resolve(duration))),
    );
    expect(rtt).to.be.a('number');
  });

  it('close() waits for the requests under way; an idle connection closes itself', async function () {
    await start();
    onStream = reading((stream) => setTimeout(() => stream.respond({ ':status': 201 }, { endStream: true }), 100));
    const connection = await connect();
    const sending = connection.request('/slow', {}, Buffer.from('x'), 2_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await connection.close();
    expect((await sending).status).to.equal(201);
    expect(connection.available).to.equal(false);

    const idle = await connect({ idleTimeoutMs: 100 });
    await idle.request('/slow', {}, Buffer.from('x'), 2_000);
    const [session] = sessions;
    await new Promise((resolve) => session!.once('close', resolve));
    expect(idle.available).to.equal(false);
  });

  it('ends every request with a connection error when the server breaks the protocol', async function () {
    // Not nghttp2: a server that answers the preface with DATA on stream 0.
    const raw = net.createServer((socket) => socket.once('data', () => socket.write(Buffer.from([0, 0, 1, 0, 0, 0, 0, 0, 0, 0x61]))));
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    server = http2.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const received: Buffer[] = [];
    const ended = new Promise((resolve) =>
      raw.on('connection', (socket) => socket.on('data', (d: Buffer) => received.push(d)).on('end', resolve)),
    );
    try {
      const socket = net.connect((raw.address() as AddressInfo).port, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      const connection = new Http2Connection(socket, 'raw', 'http');
      connections.push(connection);
      const err = await rejection(connection.request('/p', {}, Buffer.from('x'), 2_000));
      expect(err).to.be.instanceOf(Http2ConnectionError);
      expect(err.message).to.match(/DATA on stream 0/);
      // Its last words: GOAWAY (type 7) with PROTOCOL_ERROR (1).
      await ended;
      const sent = Buffer.concat(received);
      const goAway = sent.subarray(sent.length - 17);
      expect([goAway[3], goAway.readUInt32BE(13)]).to.deep.equal([7, 1]);
    } finally {
      raw.close();
    }
  });
});

/**
 * A peer that is not nghttp2: it answers the client's first bytes with SETTINGS, then with what
 * the test scripts, and records everything the client sends.
 */
describe('Http2Connection against a scripted peer', function () {
  this.timeout(10_000);
  let raw: net.Server;
  let received: Buffer[];
  let peer: net.Socket | undefined;
  const connections: Http2Connection[] = [];

  async function connectTo(script: (send: (frame: Buffer) => void) => void): Promise<Http2Connection> {
    received = [];
    raw = net.createServer((socket) => {
      peer = socket;
      socket.on('error', () => undefined);
      let scripted = false;
      socket.on('data', (d: Buffer) => {
        received.push(d);
        if (scripted) return;
        scripted = true;
        socket.write(frame(4, 0, 0, Buffer.alloc(0)));
        script((f) => socket.write(f));
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const socket = net.connect((raw.address() as AddressInfo).port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const connection = new Http2Connection(socket, 'peer', 'http');
    connections.push(connection);
    return connection;
  }

  afterEach(async function () {
    for (const c of connections.splice(0)) c.destroy();
    peer?.destroy();
    await new Promise((resolve) => raw.close(resolve));
  });

  /** `:status` as a literal field with the static table's name (index 8). */
  const statusBlock = (status: string) => Buffer.concat([Buffer.from([0x08, status.length]), Buffer.from(status, 'latin1')]);
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => expect.fail('expected a rejection'),
      (e: unknown) => e as Error,
    );

  it('takes a REFUSED_STREAM after the answer had begun as a failure, never as unprocessed', async function () {
    const connection = await connectTo((send) => {
      send(frame(1, 0x4, 1, statusBlock('201')));
      send(frame(3, 0, 1, u32(7)));
    });
    const err = await failure(connection.request('/p', {}, Buffer.from('x'), 2_000));
    expect(err).to.be.instanceOf(Http2ConnectionError);
    expect(err).to.not.be.instanceOf(UnprocessedRequestError);
  });

  it('takes a GOAWAY that leaves out a stream already answering as a failure, never as unprocessed', async function () {
    const connection = await connectTo((send) => {
      send(frame(1, 0x4, 1, statusBlock('201')));
      send(frame(7, 0, 0, Buffer.concat([u32(0), u32(0)])));
    });
    const err = await failure(connection.request('/p', {}, Buffer.from('x'), 2_000));
    expect(err).to.be.instanceOf(Http2ConnectionError);
  });

  it('refuses a header block that grows past 64 KiB in CONTINUATION frames', async function () {
    const connection = await connectTo((send) => {
      send(frame(1, 0, 1, statusBlock('201')));
      for (let i = 0; i < 5; i++) send(frame(9, 0, 1, Buffer.alloc(16_000, 0x80 | 8)));
    });
    const err = await failure(connection.request('/p', {}, Buffer.from('x'), 2_000));
    expect(err).to.be.instanceOf(Http2ConnectionError);
    expect(err.message).to.match(/header block over 65536 octets/);
  });

  it('gives the stream its window back for DATA that is all padding', async function () {
    const connection = await connectTo((send) => {
      send(frame(1, 0x4, 1, statusBlock('500')));
      // PADDED, pad length 10, no data.
      send(frame(0, 0x8, 1, Buffer.concat([Buffer.from([10]), Buffer.alloc(10)])));
      setTimeout(() => send(frame(0, 0x1, 1, Buffer.from('busy'))), 50);
    });
    const answer = await connection.request('/p', {}, Buffer.from('x'), 2_000);
    expect([answer.status, answer.text]).to.deep.equal([500, 'busy']);
    const sent = Buffer.concat(received);
    // WINDOW_UPDATE (type 8) on stream 1 for the 11 octets.
    expect(sent.includes(Buffer.concat([Buffer.from([0, 0, 4, 8, 0]), u32(1), u32(11)]))).to.equal(true);
  });

  for (const [what, script] of [
    ['a :status that is not three digits', (send: (f: Buffer) => void) => send(frame(1, 0x5, 1, statusBlock('2e2')))],
    ['an informational answer that ends the stream', (send: (f: Buffer) => void) => send(frame(1, 0x5, 1, statusBlock('103')))],
  ] as const) {
    it(`ends the connection on ${what}`, async function () {
      const connection = await connectTo(script);
      const err = await failure(connection.request('/p', {}, Buffer.from('x'), 2_000));
      expect(err).to.be.instanceOf(Http2ConnectionError);
    });
  }

  it('gives up the connection when the push service stops reading and over 1 MiB waits to be written', async function () {
    // A peer that opens every window wide, then never reads again.
    const connection = await connectTo((send) => {
      const settings = Buffer.alloc(6);
      settings.writeUInt16BE(4, 0);
      settings.writeUInt32BE(2 ** 31 - 1, 2);
      send(frame(4, 0, 0, settings));
      send(frame(8, 0, 0, u32(2 ** 31 - 1 - 65_535)));
      peer!.pause();
    });
    await connection.request('/first', {}, Buffer.alloc(1), 300).catch(() => undefined);
    const body = Buffer.alloc(16_000, 1);
    const sends = Array.from({ length: 2_000 }, (_, i) =>
      connection.request(`/p/${i}`, {}, body, 10_000).then(
        () => expect.fail('answered'),
        (e: Error) => e,
      ),
    );
    const errors = await Promise.all(sends);
    expect(connection.available).to.equal(false);
    expect(errors.some((e) => /stopped reading/.test(e.message))).to.equal(true);
  });

  it('gives up the connection when the push service sends nothing at all until a deadline', async function () {
    // Not even SETTINGS: a peer that takes bytes and never answers.
    received = [];
    raw = net.createServer((socket) => {
      peer = socket;
      socket.on('data', (d: Buffer) => received.push(d));
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const socket = net.connect((raw.address() as AddressInfo).port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const connection = new Http2Connection(socket, 'silent', 'http');
    connections.push(connection);
    const other = failure(connection.request('/other', {}, Buffer.from('x'), 5_000));
    const err = await failure(connection.request('/p', {}, Buffer.from('x'), 200));
    expect(err.message).to.match(/no complete answer within 200 ms/);
    expect(connection.available).to.equal(false);
    // The other request does not wait out its own 5 s.
    expect(await other).to.be.instanceOf(Http2ConnectionError);
  });
});

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

function u32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value);
  return out;
}

function sum(body: Buffer): number {
  let total = 0;
  for (const octet of body) total += octet;
  return total;
}
