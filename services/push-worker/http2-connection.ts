import type { Socket } from 'node:net';
import { deadlineError, MAX_LOGGED_BODY, type PushResponse } from './push-response.js';
import { encodeRequest, encodeRequestPrefix, HpackDecoder, HpackError } from './hpack.js';

/**
 * One HTTP/2 connection (RFC 9113) to a push service, client side, for POSTs with small bodies.
 *
 * Why our own and not `node:http2`: many requests go out in one socket write and many answers
 * come in one read, where HTTP/1.1 needs a write and a read per request on a connection each.
 * On this project's machine that is most of the system time per message, and node:http2's
 * streams cost more JavaScript per request than they save (docs/performance.md).
 *
 * What it does not do, being a client for this one purpose: server push (refused in its
 * SETTINGS), priorities (ignored), and request bodies larger than the flow-control windows
 * allow at once are sent as the windows open.
 */

/** The push service's answer: the sender's own response type, so nothing is copied between them. */
export type Http2Answer = PushResponse;

/**
 * The push service did not process the request (RFC 9113 §8.7: a GOAWAY that left it out, or
 * REFUSED_STREAM): it may be sent again on another connection without any risk of a duplicate.
 */
export class UnprocessedRequestError extends Error {
  readonly code = 'ERR_HTTP2_UNPROCESSED';

  constructor(reason: string) {
    super(`push service did not process the request: ${reason}`);
    this.name = 'UnprocessedRequestError';
  }
}

/** The connection failed: protocol error, reset, or closed with requests under way. */
export class Http2ConnectionError extends Error {
  readonly code = 'ERR_HTTP2_CONNECTION';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'Http2ConnectionError';
  }
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

const enum FrameType {
  Data = 0,
  Headers = 1,
  Priority = 2,
  RstStream = 3,
  Settings = 4,
  PushPromise = 5,
  Ping = 6,
  GoAway = 7,
  WindowUpdate = 8,
  Continuation = 9,
}

const enum Flag {
  EndStream = 0x1,
  Ack = 0x1,
  EndHeaders = 0x4,
  Padded = 0x8,
  Priority = 0x20,
}

const enum ErrorCode {
  NoError = 0,
  Protocol = 1,
  Internal = 2,
  FlowControl = 3,
  FrameSize = 6,
  RefusedStream = 7,
  Cancel = 8,
  Compression = 9,
}

const enum Setting {
  HeaderTableSize = 1,
  EnablePush = 2,
  MaxConcurrentStreams = 3,
  InitialWindowSize = 4,
  MaxFrameSize = 5,
}

const DEFAULT_WINDOW = 65_535;
const MAX_WINDOW = 2 ** 31 - 1;
const DEFAULT_MAX_FRAME = 16_384;
const FRAME_HEADER = 9;
/** Our receive window for the whole connection: answers are small, so it is topped up rarely. */
const CONNECTION_RECEIVE_WINDOW = 16 * 1024 * 1024;
/** The largest header block we take from a push service (an answer's is a few hundred octets). */
const MAX_HEADER_BLOCK = 64 * 1024;
/**
 * Octets queued on the socket beyond which the push service is taken to have stopped reading:
 * a connection's requests in flight are bounded by the send slots, far below this.
 */
const MAX_UNWRITTEN = 1024 * 1024;
/** The last client stream id (odd) a connection may use. */
const LAST_STREAM_ID = 2 ** 31 - 1;

class Http2Stream {
  id = 0;
  status = 0;
  headers: Http2Answer['headers'] = {};
  chunks: Buffer[] | undefined;
  kept = 0;
  /** Octets of the body not yet framed. */
  sent = 0;
  sendWindow = 0;
  /** The request's HEADERS have been queued for the socket. */
  started = false;
  /** A header block of this stream was decoded (the answer's head has come). */
  answered = false;
  /** The connection's count of reads when the stream started (see `deadline`). */
  readsAtStart = 0;
  done = false;
  timer: NodeJS.Timeout | undefined;

  constructor(
    /** Latin-1 text, one character per octet (`encodeRequest`). */
    readonly headerBlock: string,
    readonly body: Buffer,
    readonly resolve: (answer: Http2Answer) => void,
    readonly reject: (err: Error) => void,
  ) {}
}

export interface Http2ConnectionOptions {
  /** Called once, when the connection can take no more requests (closing, closed, or out of stream ids). */
  onUnavailable?(connection: Http2Connection): void;
  /** How long the connection may stay without requests before it closes itself. */
  idleTimeoutMs?: number;
}

/**
 * A client connection on a socket that is already connected (TLS with ALPN `h2`, or plain TCP
 * with prior knowledge). Requests are framed into a queue that goes to the socket in one write
 * at the end of the current tick.
 */
export class Http2Connection {
  private readonly decoder = new HpackDecoder();
  private readonly streams = new Map<number, Http2Stream>();
  /** Requests waiting for the push service's limit on concurrent streams. */
  private readonly waiting: Http2Stream[] = [];
  /** Streams with body octets waiting for a flow-control window. */
  private readonly blocked = new Set<Http2Stream>();
  /** Reads from the socket so far: a deadline with none since its stream started means a dead peer. */
  private reads = 0;
  private nextStreamId = 1;
  private peerMaxConcurrent = Infinity;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = DEFAULT_MAX_FRAME;
  private sendWindow = DEFAULT_WINDOW;
  private unacknowledgedReceived = 0;
  private output: Buffer[] = [];
  private flushScheduled = false;
  private input: Buffer | undefined;
  /** The stream whose header block is being continued, and the block's pieces so far. */
  private continuing: { streamId: number; endStream: boolean; pieces: Buffer[]; size: number } | undefined;
  /** The highest stream id the peer will still process, once it has sent GOAWAY. */
  private goAwayLastId: number | undefined;
  private closing = false;
  private closed = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private drained: (() => void) | undefined;
  private readonly onUnavailable: ((connection: Http2Connection) => void) | undefined;
  private readonly idleTimeoutMs: number;
  private readonly requestPrefix: string;

  constructor(
    private readonly socket: Socket,
    private readonly authority: string,
    private readonly scheme: 'http' | 'https',
    options: Http2ConnectionOptions = {},
  ) {
    this.onUnavailable = options.onUnavailable;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.requestPrefix = encodeRequestPrefix(scheme, authority);
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => this.receive(data));
    socket.on('error', (err) => this.fail(new Http2ConnectionError(`push service connection failed: ${err.message}`, { cause: err })));
    socket.on('close', () => this.fail(new Http2ConnectionError('push service closed the connection')));
    const settings = Buffer.alloc(FRAME_HEADER + 12);
    writeFrameHeader(settings, 0, 12, FrameType.Settings, 0, 0);
    settings.writeUInt16BE(Setting.EnablePush, 9);
    settings.writeUInt32BE(0, 11);
    // The server may not open streams of its own (no push); our streams are not limited by this.
    settings.writeUInt16BE(Setting.MaxConcurrentStreams, 15);
    settings.writeUInt32BE(0, 17);
    this.queue(Buffer.concat([PREFACE, settings, windowUpdateFrame(0, CONNECTION_RECEIVE_WINDOW - DEFAULT_WINDOW)]));
    this.armIdleTimer();
  }

  /** Whether a new request may be started here. */
  get available(): boolean {
    return !this.closing && !this.closed && this.goAwayLastId === undefined && this.nextStreamId <= LAST_STREAM_ID;
  }

  /**
   * Sends a POST and resolves with the answer. Rejects with `UnprocessedRequestError` when the
   * push service certainly did not process it, with `Http2ConnectionError` when the connection
   * failed under it, and with the deadline's error when `timeoutMs` passes first (the stream is
   * then cancelled).
   */
  request(path: string, headers: Record<string, string>, body: Buffer, timeoutMs: number): Promise<Http2Answer> {
    if (!this.available) return Promise.reject(new UnprocessedRequestError('connection no longer takes requests'));
    const headerBlock = encodeRequest(this.requestPrefix, path, headers, body.length);
    return new Promise<Http2Answer>((resolve, reject) => {
      const stream = new Http2Stream(headerBlock, body, resolve, reject);
      stream.timer = setTimeout(passDeadline, timeoutMs, this, stream, timeoutMs);
      if (this.idleTimer) {
        clearTimeout(this.idleTimer);
        this.idleTimer = undefined;
      }
      if (this.streams.size + this.waiting.length >= this.peerMaxConcurrent) this.waiting.push(stream);
      else this.start(stream);
    });
  }

  /** Stops taking requests, lets those under way finish, then closes. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const wasAvailable = this.available;
    this.closing = true;
    if (wasAvailable) this.onUnavailable?.(this);
    this.dropWaiting('connection closing');
    return new Promise<void>((resolve) => {
      const previous = this.drained;
      this.drained = () => {
        previous?.();
        resolve();
      };
      if (this.streams.size === 0 && this.waiting.length === 0) this.shutDown(ErrorCode.NoError);
    });
  }

  /** Ends every request at once with `err` and closes the socket. */
  destroy(err: Error = new Http2ConnectionError('push service connection closed')): void {
    this.fail(err);
  }

  private start(stream: Http2Stream): void {
    if (!this.available) {
      this.finish(stream, new UnprocessedRequestError('connection no longer takes requests'));
      return;
    }
    stream.id = this.nextStreamId;
    this.nextStreamId += 2;
    stream.sendWindow = this.peerInitialWindow;
    stream.readsAtStart = this.reads;
    stream.started = true;
    this.streams.set(stream.id, stream);
    this.queueHeaders(stream);
    this.sendBody(stream);
    if (this.nextStreamId > LAST_STREAM_ID) {
      this.onUnavailable?.(this);
      this.dropWaiting('connection out of stream ids');
    }
  }

  /** Requests that never started here go elsewhere: they were not sent, so they cannot have been processed. */
  private dropWaiting(reason: string): void {
    for (const stream of this.waiting.splice(0)) this.finish(stream, new UnprocessedRequestError(reason));
  }

  private queueHeaders(stream: Http2Stream): void {
    const block = stream.headerBlock;
    const { body } = stream;
    const endStream = body.length === 0 ? Flag.EndStream : 0;
    if (block.length <= this.peerMaxFrame) {
      // The usual case: HEADERS and the whole body in one DATA frame, in one buffer.
      const whole = body.length > 0 && body.length <= Math.min(this.sendWindow, stream.sendWindow, this.peerMaxFrame);
      const frame = Buffer.allocUnsafe(FRAME_HEADER + block.length + (whole ? FRAME_HEADER + body.length : 0));
      writeFrameHeader(frame, 0, block.length, FrameType.Headers, Flag.EndHeaders | endStream, stream.id);
      frame.write(block, FRAME_HEADER, 'latin1');
      if (whole) {
        const at = FRAME_HEADER + block.length;
        writeFrameHeader(frame, at, body.length, FrameType.Data, Flag.EndStream, stream.id);
        body.copy(frame, at + FRAME_HEADER);
        stream.sent = body.length;
        this.sendWindow -= body.length;
        stream.sendWindow -= body.length;
      }
      this.queue(frame);
      return;
    }
    const octets = Buffer.from(block, 'latin1');
    for (let at = 0; at < octets.length; at += this.peerMaxFrame) {
      const piece = octets.subarray(at, at + this.peerMaxFrame);
      const last = at + this.peerMaxFrame >= octets.length;
      const type = at === 0 ? FrameType.Headers : FrameType.Continuation;
      const flags = (last ? Flag.EndHeaders : 0) | (at === 0 ? endStream : 0);
      const header = Buffer.allocUnsafe(FRAME_HEADER);
      writeFrameHeader(header, 0, piece.length, type, flags, stream.id);
      this.queue(header, piece);
    }
  }

  /** Frames as much of the body as the windows allow; the rest waits for WINDOW_UPDATE. */
  private sendBody(stream: Http2Stream): void {
    const { body } = stream;
    while (stream.sent < body.length) {
      const size = Math.min(body.length - stream.sent, this.sendWindow, stream.sendWindow, this.peerMaxFrame);
      if (size <= 0) {
        this.blocked.add(stream);
        return;
      }
      const last = stream.sent + size === body.length;
      const header = Buffer.allocUnsafe(FRAME_HEADER);
      writeFrameHeader(header, 0, size, FrameType.Data, last ? Flag.EndStream : 0, stream.id);
      this.queue(header, body.subarray(stream.sent, stream.sent + size));
      stream.sent += size;
      this.sendWindow -= size;
      stream.sendWindow -= size;
    }
  }

  private queue(frame: Buffer, more?: Buffer): void {
    this.output.push(frame);
    if (more) this.output.push(more);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // After this tick's promise jobs: every request planned in this turn goes in one write.
      process.nextTick(flush, this);
    }
  }

  flushOutput(): void {
    this.flushScheduled = false;
    if (this.closed || this.output.length === 0) return;
    const frames = this.output;
    this.output = [];
    this.socket.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
    if (this.socket.writableLength > MAX_UNWRITTEN) {
      this.fail(new Http2ConnectionError('push service stopped reading: over 1 MiB waits to be written'));
    }
  }

  private receive(data: Buffer): void {
    this.reads++;
    const buffer = this.input ? Buffer.concat([this.input, data]) : data;
    this.input = undefined;
    let at = 0;
    try {
      while (!this.closed && buffer.length - at >= FRAME_HEADER) {
        const length = buffer.readUIntBE(at, 3);
        if (length > DEFAULT_MAX_FRAME) throw new ProtocolError(ErrorCode.FrameSize, `frame of ${length} octets`);
        if (buffer.length - at < FRAME_HEADER + length) break;
        const type = buffer[at + 3]!;
        const flags = buffer[at + 4]!;
        const streamId = buffer.readUInt32BE(at + 5) & 0x7fffffff;
        const payload = buffer.subarray(at + FRAME_HEADER, at + FRAME_HEADER + length);
        at += FRAME_HEADER + length;
        this.frame(type, flags, streamId, payload);
      }
    } catch (err) {
      const code = err instanceof ProtocolError ? err.errorCode : err instanceof HpackError ? ErrorCode.Compression : ErrorCode.Internal;
      this.shutDown(code, new Http2ConnectionError(`push service broke HTTP/2: ${(err as Error).message}`, { cause: err }));
      return;
    }
    if (at < buffer.length) this.input = Buffer.from(buffer.subarray(at));
  }

  private frame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.continuing && type !== FrameType.Continuation) {
      throw new ProtocolError(ErrorCode.Protocol, 'header block interrupted');
    }
    switch (type) {
      case FrameType.Data:
        return this.data(flags, streamId, payload);
      case FrameType.Headers:
        return this.headers(flags, streamId, payload);
      case FrameType.Continuation:
        return this.continuation(flags, streamId, payload);
      case FrameType.RstStream:
        return this.resetByPeer(streamId, payload);
      case FrameType.Settings:
        return this.settings(flags, streamId, payload);
      case FrameType.Ping:
        if (streamId !== 0 || payload.length !== 8) throw new ProtocolError(ErrorCode.Protocol, 'bad PING');
        if ((flags & Flag.Ack) === 0) {
          const pong = Buffer.allocUnsafe(FRAME_HEADER + 8);
          writeFrameHeader(pong, 0, 8, FrameType.Ping, Flag.Ack, 0);
          payload.copy(pong, FRAME_HEADER);
          this.queue(pong);
        }
        return;
      case FrameType.GoAway:
        return this.goAway(streamId, payload);
      case FrameType.WindowUpdate:
        return this.windowUpdate(streamId, payload);
      case FrameType.PushPromise:
        throw new ProtocolError(ErrorCode.Protocol, 'PUSH_PROMISE though push is disabled');
      default:
        // PRIORITY and unknown types carry nothing for us (§5.5: unknown frames are ignored).
        if (type === FrameType.Priority && streamId === 0) throw new ProtocolError(ErrorCode.Protocol, 'PRIORITY on stream 0');
    }
  }

  private data(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ProtocolError(ErrorCode.Protocol, 'DATA on stream 0');
    // Flow control counts the whole frame, padding included, whether or not the stream is still ours.
    this.unacknowledgedReceived += payload.length;
    if (this.unacknowledgedReceived >= CONNECTION_RECEIVE_WINDOW / 4) {
      this.queue(windowUpdateFrame(0, this.unacknowledgedReceived));
      this.unacknowledgedReceived = 0;
    }
    const stream = this.streams.get(streamId);
    if (!stream) {
      this.checkKnown(streamId);
      return;
    }
    if (!stream.answered) throw new ProtocolError(ErrorCode.Protocol, 'DATA before HEADERS');
    const body = unpad(flags, payload);
    if (stream.status >= 300 && stream.kept < MAX_LOGGED_BODY && body.length > 0) {
      (stream.chunks ??= []).push(Buffer.from(body));
      stream.kept += body.length;
    }
    // Only the start of a body is kept, so the stream's window is given back as it is read.
    if ((flags & Flag.EndStream) === 0 && payload.length > 0) this.queue(windowUpdateFrame(streamId, payload.length));
    if (flags & Flag.EndStream) this.complete(stream);
  }

  private headers(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ProtocolError(ErrorCode.Protocol, 'HEADERS on stream 0');
    let block = unpad(flags, payload);
    if (flags & Flag.Priority) {
      if (block.length < 5) throw new ProtocolError(ErrorCode.FrameSize, 'short HEADERS priority');
      block = block.subarray(5);
    }
    const endStream = (flags & Flag.EndStream) !== 0;
    if (flags & Flag.EndHeaders) this.headerBlock(streamId, endStream, block);
    else this.continuing = { streamId, endStream, pieces: [Buffer.from(block)], size: block.length };
  }

  private continuation(flags: number, streamId: number, payload: Buffer): void {
    const continuing = this.continuing;
    if (!continuing || continuing.streamId !== streamId) throw new ProtocolError(ErrorCode.Protocol, 'unexpected CONTINUATION');
    continuing.size += payload.length;
    if (continuing.size > MAX_HEADER_BLOCK) throw new ProtocolError(ErrorCode.Protocol, `header block over ${MAX_HEADER_BLOCK} octets`);
    continuing.pieces.push(Buffer.from(payload));
    if (flags & Flag.EndHeaders) {
      this.continuing = undefined;
      this.headerBlock(streamId, continuing.endStream, Buffer.concat(continuing.pieces));
    }
  }

  private headerBlock(streamId: number, endStream: boolean, block: Buffer): void {
    // Decoded even for a stream we gave up on: the table is the connection's.
    const fields = this.decoder.decode(block);
    const stream = this.streams.get(streamId);
    if (!stream) {
      this.checkKnown(streamId);
      return;
    }
    if (!stream.answered) {
      let status = '';
      const headers: Http2Answer['headers'] = {};
      for (const [name, value] of fields) {
        if (name === ':status') status = value;
        else if (name.charCodeAt(0) !== 58) addHeader(headers, name, value);
      }
      if (!/^[1-9]\d\d$/.test(status)) throw new ProtocolError(ErrorCode.Protocol, 'answer without a valid :status');
      // An informational answer (1xx) comes before the real one, and cannot end the stream.
      if (status.charCodeAt(0) === 49) {
        if (endStream) throw new ProtocolError(ErrorCode.Protocol, 'stream ended by an informational answer');
        return;
      }
      stream.answered = true;
      stream.status = Number(status);
      stream.headers = headers;
    }
    // Trailers, if any, are not used.
    if (endStream) this.complete(stream);
  }

  private resetByPeer(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new ProtocolError(ErrorCode.FrameSize, 'RST_STREAM of a bad length');
    if (streamId === 0) throw new ProtocolError(ErrorCode.Protocol, 'RST_STREAM on stream 0');
    const stream = this.streams.get(streamId);
    if (!stream) return;
    const code = payload.readUInt32BE(0);
    this.finish(
      stream,
      code === ErrorCode.RefusedStream
        ? this.unprocessed(stream, 'stream refused')
        : new Http2ConnectionError(`push service reset the stream (HTTP/2 error ${code})`),
    );
  }

  /**
   * The error of a stream the push service says it did not process: safe to send again, unless it
   * had begun to answer it (a broken peer), which is then an ordinary failure.
   */
  private unprocessed(stream: Http2Stream, reason: string): Error {
    return stream.answered
      ? new Http2ConnectionError(`push service gave up on a request it had begun to answer (${reason})`)
      : new UnprocessedRequestError(reason);
  }

  private settings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new ProtocolError(ErrorCode.Protocol, 'SETTINGS on a stream');
    if (flags & Flag.Ack) {
      if (payload.length !== 0) throw new ProtocolError(ErrorCode.FrameSize, 'SETTINGS acknowledgement with a payload');
      return;
    }
    if (payload.length % 6 !== 0) throw new ProtocolError(ErrorCode.FrameSize, 'SETTINGS of a bad length');
    for (let at = 0; at < payload.length; at += 6) {
      const id = payload.readUInt16BE(at);
      const value = payload.readUInt32BE(at + 2);
      if (id === Setting.MaxConcurrentStreams) this.peerMaxConcurrent = value;
      else if (id === Setting.InitialWindowSize) {
        if (value > MAX_WINDOW) throw new ProtocolError(ErrorCode.FlowControl, 'initial window too large');
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const stream of this.streams.values()) {
          stream.sendWindow += delta;
          if (stream.sendWindow > MAX_WINDOW) throw new ProtocolError(ErrorCode.FlowControl, 'stream window overflow');
        }
      } else if (id === Setting.MaxFrameSize) {
        if (value < DEFAULT_MAX_FRAME || value > 2 ** 24 - 1) throw new ProtocolError(ErrorCode.Protocol, 'bad max frame size');
        this.peerMaxFrame = value;
      }
      // SETTINGS_HEADER_TABLE_SIZE bounds an encoder's table; ours uses none.
    }
    const ack = Buffer.allocUnsafe(FRAME_HEADER);
    writeFrameHeader(ack, 0, 0, FrameType.Settings, Flag.Ack, 0);
    this.queue(ack);
    this.unblock();
    this.startWaiting();
  }

  private windowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new ProtocolError(ErrorCode.FrameSize, 'bad WINDOW_UPDATE');
    const increment = payload.readUInt32BE(0) & 0x7fffffff;
    if (increment === 0) throw new ProtocolError(ErrorCode.Protocol, 'WINDOW_UPDATE of 0');
    if (streamId === 0) {
      this.sendWindow += increment;
      if (this.sendWindow > MAX_WINDOW) throw new ProtocolError(ErrorCode.FlowControl, 'connection window overflow');
    } else {
      const stream = this.streams.get(streamId);
      if (!stream) return;
      stream.sendWindow += increment;
      if (stream.sendWindow > MAX_WINDOW) {
        this.finish(stream, new Http2ConnectionError('push service overflowed a stream window'));
        this.queue(rstStreamFrame(streamId, ErrorCode.FlowControl));
        return;
      }
    }
    this.unblock();
  }

  private goAway(streamId: number, payload: Buffer): void {
    if (streamId !== 0 || payload.length < 8) throw new ProtocolError(ErrorCode.Protocol, 'bad GOAWAY');
    const lastId = payload.readUInt32BE(0) & 0x7fffffff;
    const code = payload.readUInt32BE(4);
    const wasAvailable = this.available;
    this.goAwayLastId = Math.min(lastId, this.goAwayLastId ?? lastId);
    if (wasAvailable) this.onUnavailable?.(this);
    for (const stream of [...this.streams.values()]) {
      if (stream.id > this.goAwayLastId) this.finish(stream, this.unprocessed(stream, `GOAWAY (HTTP/2 error ${code})`));
    }
    this.dropWaiting(`GOAWAY (HTTP/2 error ${code})`);
    this.closeIfDone();
  }

  private unblock(): void {
    if (this.blocked.size === 0) return;
    const blocked = [...this.blocked];
    this.blocked.clear();
    for (const stream of blocked) this.sendBody(stream);
  }

  private startWaiting(): void {
    while (this.waiting.length > 0 && this.streams.size < this.peerMaxConcurrent && this.available) {
      this.start(this.waiting.shift()!);
    }
  }

  /** A frame for a stream that is not (or no longer) ours: fine if we opened it once. */
  private checkKnown(streamId: number): void {
    if (streamId % 2 === 0 || streamId >= this.nextStreamId) throw new ProtocolError(ErrorCode.Protocol, `frame on stream ${streamId} never opened`);
  }

  private complete(stream: Http2Stream): void {
    if (stream.sent < stream.body.length) {
      // Answered before the whole body went: the rest is not wanted (§8.1); tell the peer we stop.
      this.queue(rstStreamFrame(stream.id, ErrorCode.NoError));
    }
    const text = stream.chunks ? Buffer.concat(stream.chunks).toString('utf8').slice(0, MAX_LOGGED_BODY) : '';
    this.finish(stream, { status: stream.status, headers: stream.headers, text });
  }

  /** Ends a stream with its answer or an error, and starts a waiting one in its place. */
  finish(stream: Http2Stream, outcome: Http2Answer | Error): void {
    if (stream.done) return;
    stream.done = true;
    clearTimeout(stream.timer);
    this.blocked.delete(stream);
    if (stream.started) this.streams.delete(stream.id);
    else {
      const i = this.waiting.indexOf(stream);
      if (i >= 0) this.waiting.splice(i, 1);
    }
    if (outcome instanceof Error) stream.reject(outcome);
    else stream.resolve(outcome);
    this.startWaiting();
    this.closeIfDone();
  }

  /** The deadline of a request: the stream is cancelled however far it got. */
  deadline(stream: Http2Stream, timeoutMs: number): void {
    if (stream.done) return;
    const err = deadlineError(timeoutMs);
    if (stream.started && !this.closed && this.reads === stream.readsAtStart) {
      // Not a byte from the push service since this request began: the connection is dead (or
      // the peer stalled), and every other request on it would wait out its deadline too.
      this.finish(stream, err);
      this.fail(new Http2ConnectionError(`push service sent nothing for ${timeoutMs} ms`));
      return;
    }
    if (stream.started && !this.closed) this.queue(rstStreamFrame(stream.id, ErrorCode.Cancel));
    this.finish(stream, err);
  }

  private closeIfDone(): void {
    if (this.streams.size > 0 || this.waiting.length > 0 || this.closed) return;
    if (this.closing || this.goAwayLastId !== undefined || this.nextStreamId > LAST_STREAM_ID) this.shutDown(ErrorCode.NoError);
    else this.armIdleTimer();
  }

  private armIdleTimer(): void {
    if (this.idleTimer || this.closed) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.streams.size === 0 && this.waiting.length === 0) void this.close();
    }, this.idleTimeoutMs);
    this.idleTimer.unref();
  }

  /** Sends GOAWAY with `code` and closes; requests still under way end with `err`. */
  private shutDown(code: ErrorCode, err?: Error): void {
    if (this.closed) return;
    const goAway = Buffer.alloc(FRAME_HEADER + 8);
    writeFrameHeader(goAway, 0, 8, FrameType.GoAway, 0, 0);
    goAway.writeUInt32BE(0, 9);
    goAway.writeUInt32BE(code, 13);
    this.output.push(goAway);
    this.flushOutput();
    this.fail(err ?? new Http2ConnectionError('push service connection closed'), true);
  }

  /** Ends every request under way with `err`; `graceful` lets queued frames (the GOAWAY) reach the peer first. */
  private fail(err: Error, graceful = false): void {
    if (this.closed) return;
    const wasAvailable = this.available;
    this.closed = true;
    if (wasAvailable) this.onUnavailable?.(this);
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.output = [];
    for (const stream of [...this.streams.values(), ...this.waiting]) {
      // A request that never left cannot have been processed.
      this.finish(stream, stream.started ? err : new UnprocessedRequestError(err.message));
    }
    this.streams.clear();
    this.waiting.length = 0;
    if (graceful) {
      this.socket.end();
      // A peer that never closes its side must not keep the socket.
      setTimeout(destroySocket, 1_000, this.socket).unref();
    } else {
      this.socket.destroy();
    }
    const drained = this.drained;
    this.drained = undefined;
    drained?.();
  }
}

class ProtocolError extends Error {
  constructor(
    readonly errorCode: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

function destroySocket(socket: Socket): void {
  socket.destroy();
}

function flush(connection: Http2Connection): void {
  connection.flushOutput();
}

function passDeadline(connection: Http2Connection, stream: Http2Stream, timeoutMs: number): void {
  connection.deadline(stream, timeoutMs);
}

function writeFrameHeader(out: Buffer, at: number, length: number, type: number, flags: number, streamId: number): void {
  out.writeUIntBE(length, at, 3);
  out[at + 3] = type;
  out[at + 4] = flags;
  out.writeUInt32BE(streamId, at + 5);
}

function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER + 4);
  writeFrameHeader(frame, 0, 4, FrameType.WindowUpdate, 0, streamId);
  frame.writeUInt32BE(increment, FRAME_HEADER);
  return frame;
}

function rstStreamFrame(streamId: number, code: ErrorCode): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER + 4);
  writeFrameHeader(frame, 0, 4, FrameType.RstStream, 0, streamId);
  frame.writeUInt32BE(code, FRAME_HEADER);
  return frame;
}

/** The frame's content without its padding (§6.1). */
function unpad(flags: number, payload: Buffer): Buffer {
  if ((flags & Flag.Padded) === 0) return payload;
  if (payload.length < 1) throw new ProtocolError(ErrorCode.FrameSize, 'padded frame without a pad length');
  const padding = payload[0]!;
  if (padding >= payload.length) throw new ProtocolError(ErrorCode.Protocol, 'padding longer than the frame');
  return payload.subarray(1, payload.length - padding);
}

function addHeader(headers: Http2Answer['headers'], name: string, value: string): void {
  const existing = headers[name];
  if (existing === undefined) headers[name] = value;
  else if (Array.isArray(existing)) existing.push(value);
  else headers[name] = [existing, value];
}
