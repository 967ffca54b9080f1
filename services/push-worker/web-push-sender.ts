import { validateHeaderName } from 'node:http';
import net, { isIP, type LookupFunction } from 'node:net';
import tls from 'node:tls';
import { buildConnector, Pool, type Dispatcher } from 'undici';
import type { Http2Mode } from '../../shared/config/index.js';
import { Http2Connection, UnprocessedRequestError } from './http2-connection.js';
import { deadlineError, MAX_LOGGED_BODY, type PushResponse } from './push-response.js';

export type { PushResponse } from './push-response.js';
import { UnsafeAddressError } from './safe-lookup.js';

export interface PushRequest {
  endpoint: string;
  /** `endpoint` already parsed, when the caller has it: saves parsing it again per send. */
  url?: URL;
  headers: Record<string, string>;
  body: Buffer;
}


/** Sends one encrypted message to a push service. */
export interface PushSender {
  /**
   * Resolves with the push service's answer; rejects on timeout or a connection failure, and
   * with `UnsafeAddressError` when the endpoint's address was refused (never worth a retry).
   */
  send(push: PushRequest): Promise<PushResponse>;
  /** Waits for requests under way; `abort` ends them at once instead (shutdown past its deadline). */
  close(options?: { abort?: boolean }): Promise<void>;
}

const MAX_CHECKED_LITERALS = 1000;

/**
 * Web Push over one keep-alive connection per push-service origin: HTTP/2 where the push
 * service speaks it (`http2`), undici's HTTP/1.1 pool of `connectionsPerOrigin` connections
 * where not. A TLS handshake is paid once per connection rather than per message, and every
 * request has a total deadline (undici's own timeouts are idle timeouts; the deadline bounds
 * the whole exchange).
 *
 * `lookup` (see `createSafeLookup`) decides which addresses a new connection may go to.
 */
export function createWebPushSender(options: {
  timeoutMs: number;
  connectionsPerOrigin: number;
  lookup?: LookupFunction;
  /** Certificate authorities to trust instead of Node's (tests: a private CA). */
  ca?: string | Buffer;
  /** Unset: `auto` (see `PushConfig.http2`). */
  http2?: Http2Mode;
}): PushSender {
  const { lookup, timeoutMs } = options;
  const http2 = options.http2 ?? 'auto';
  const connectTimeoutMs = Math.min(timeoutMs, 10_000);
  // One transport per origin, kept: a request goes straight to it without the URL parsing and
  // dispatcher lookup of undici's request(url).
  const origins = new Map<string, OriginTransport>();
  /** `spare`: the TLS connection on which the push service chose HTTP/1.1, used first. */
  const http1 = (origin: string, spare?: net.Socket): Http1Origin => {
    const connector = buildConnector({
      timeout: connectTimeoutMs,
      ...(lookup ? { lookup } : {}),
      ...(options.ca ? { ca: options.ca } : {}),
    });
    const pool = new Pool(origin, {
      connections: options.connectionsPerOrigin,
      keepAliveTimeout: 60_000,
      connect: (connectOptions, callback) => {
        const socket = spare;
        spare = undefined;
        // Handed over on a later tick, as a connector does: undici calls the connector from its
        // dispatch loop, and a callback from inside that call left the first request waiting.
        if (socket && !socket.destroyed) process.nextTick(callback, null, socket);
        else connector(connectOptions, callback);
      },
    });
    const transport: Http1Origin = {
      pool,
      dropSpare: () => {
        spare?.destroy();
        spare = undefined;
      },
    };
    origins.set(origin, transport);
    return transport;
  };
  const transportFor = (url: URL): OriginTransport => {
    const known = origins.get(url.origin);
    if (known) return known;
    const h2 = http2 === 'always' || (http2 === 'auto' && url.protocol === 'https:');
    if (!h2) return http1(url.origin);
    const transport = new Http2Origin(url, {
      connectTimeoutMs,
      ...(lookup ? { lookup } : {}),
      ...(options.ca ? { ca: options.ca } : {}),
      require: http2 === 'always',
      // The push service chose HTTP/1.1: from now on this origin's sends go through undici, the
      // connection it chose on first.
      http1: (spare) => {
        const current = origins.get(url.origin);
        if (current && !(current instanceof Http2Origin)) {
          spare?.destroy();
          return current.pool;
        }
        return http1(url.origin, spare).pool;
      },
    });
    origins.set(url.origin, transport);
    return transport;
  };
  // IP-literal hosts that passed the lookup's check: an address's verdict never changes, so
  // it is checked once, not per send.
  const checkedLiterals = new Set<string>();
  const checkLiteral = async (hostname: string) => {
    await checkLiteralHost(lookup!, hostname);
    if (checkedLiterals.size >= MAX_CHECKED_LITERALS) checkedLiterals.clear();
    checkedLiterals.add(hostname);
  };
  const checkedNames: CheckedNames = new Map();
  const exchange = (url: URL, push: PushRequest): Promise<PushResponse> => {
    if (closed) return refusedAfterClose();
    // undici refuses such headers itself, but a refused request leaves its connection waiting
    // for a 'drain' that never comes (undici 7.30): every later send to that origin would hang.
    const invalid = invalidHeader(push.headers, checkedNames);
    if (invalid !== undefined) return Promise.reject(new InvalidPushHeaderError(invalid));
    const path = url.search ? `${url.pathname}${url.search}` : url.pathname;
    const transport = transportFor(url);
    if (transport instanceof Http2Origin) return transport.send(path, push, timeoutMs);
    return viaUndici(transport.pool, path, push, timeoutMs);
  };
  let closed = false;
  return {
    send(push) {
      if (closed) return refusedAfterClose();
      let url: URL;
      try {
        url = push.url ?? new URL(push.endpoint);
      } catch (err) {
        return Promise.reject(err);
      }
      const { hostname } = url;
      if (lookup && !checkedLiterals.has(hostname) && isLiteral(hostname)) {
        return checkLiteral(hostname).then(() => exchange(url, push));
      }
      return exchange(url, push);
    },
    async close({ abort = false } = {}) {
      closed = true;
      await Promise.all(
        [...origins.values()].map((transport) =>
          transport instanceof Http2Origin ? transport.close(abort) : closePool(transport, abort),
        ),
      );
      origins.clear();
    },
  };
}

type OriginTransport = Http1Origin | Http2Origin;

interface Http1Origin {
  pool: Pool;
  /** Closes the connection kept from the ALPN choice if the pool never took it. */
  dropSpare(): void;
}

/** What connecting gives when the push service chose HTTP/1.1. */
const NO_HTTP2 = Symbol('no HTTP/2');

/** How often a send goes again on a new connection after the push service left it unprocessed. */
const MAX_UNPROCESSED_RESENDS = 3;

/**
 * One push-service origin over HTTP/2: one connection, opened on first use and again whenever
 * the last one stops taking requests. The connection is made to the address `lookup` checked,
 * as undici's are.
 */
class Http2Origin {
  private connection: Http2Connection | undefined;
  private connecting: Promise<Http2Connection | typeof NO_HTTP2> | undefined;
  private readonly all = new Set<Http2Connection>();
  private closed = false;

  constructor(
    private readonly url: URL,
    private readonly options: {
      connectTimeoutMs: number;
      lookup?: LookupFunction;
      ca?: string | Buffer;
      /** `always`: a push service without HTTP/2 is an error, not a reason for HTTP/1.1. */
      require: boolean;
      /** The HTTP/1.1 pool to use instead, given the connection on which the push service chose it. */
      http1(spare: net.Socket | undefined): Pool;
    },
  ) {}

  async send(path: string, push: PushRequest, timeoutMs: number): Promise<PushResponse> {
    const deadline = Date.now() + timeoutMs;
    for (let resend = 0; ; resend++) {
      const connection = this.connection?.available ? this.connection : await this.connect(deadline, timeoutMs);
      if (connection === NO_HTTP2) {
        if (this.closed) return refusedAfterClose();
        return viaUndici(this.options.http1(undefined), path, push, deadline - Date.now());
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw deadlineError(timeoutMs);
      try {
        return await connection.request(path, push.headers, push.body, remaining);
      } catch (err) {
        // Never processed, so never a duplicate: sent again on a fresh connection.
        if (!(err instanceof UnprocessedRequestError) || resend >= MAX_UNPROCESSED_RESENDS || this.closed) throw err;
      }
    }
  }

  async close(abort: boolean): Promise<void> {
    this.closed = true;
    await this.connecting?.catch(() => undefined);
    await Promise.all([...this.all].map((connection) => (abort ? connection.destroy() : connection.close())));
  }

  private connect(deadline: number, timeoutMs: number): Promise<Http2Connection | typeof NO_HTTP2> {
    if (this.closed) return refusedAfterClose();
    if (!this.connecting) {
      const connecting = this.open().finally(() => {
        if (this.connecting === connecting) this.connecting = undefined;
      });
      this.connecting = connecting;
    }
    const remaining = deadline - Date.now();
    return withDeadline(this.connecting, remaining, timeoutMs);
  }

  private async open(): Promise<Http2Connection | typeof NO_HTTP2> {
    const { url, options } = this;
    const socket = await connectSocket(url, options);
    if (this.closed) {
      socket.destroy();
      return refusedAfterClose();
    }
    if (socket.alpnProtocol !== undefined && socket.alpnProtocol !== 'h2') {
      // The origin goes to undici here, whoever is still waiting: the connection the push
      // service chose HTTP/1.1 on becomes the pool's first, never left unowned.
      socket.on('error', ignore);
      this.options.http1(socket);
      return NO_HTTP2;
    }
    const connection = new Http2Connection(socket, url.host, url.protocol === 'https:' ? 'https' : 'http', {
      onUnavailable: (c) => {
        if (this.connection === c) this.connection = undefined;
      },
    });
    socket.once('close', () => this.all.delete(connection));
    this.all.add(connection);
    this.connection = connection;
    return connection;
  }
}

/**
 * A connected socket to `url`'s origin: TLS offering `h2` by ALPN (and `http/1.1` unless HTTP/2
 * is required; `alpnProtocol` tells which the push service chose), or plain TCP for an http://
 * origin (HTTP/2 with prior knowledge).
 */
function connectSocket(
  url: URL,
  options: { connectTimeoutMs: number; lookup?: LookupFunction; ca?: string | Buffer; require: boolean },
): Promise<net.Socket & { alpnProtocol?: string | false | null }> {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const secure = url.protocol === 'https:';
  const port = Number(url.port) || (secure ? 443 : 80);
  return new Promise((resolve, reject) => {
    const socket = secure
      ? tls.connect({
          host,
          port,
          ...(isIP(host) ? {} : { servername: host }),
          ALPNProtocols: options.require ? ['h2'] : ['h2', 'http/1.1'],
          ...(options.lookup ? { lookup: options.lookup } : {}),
          ...(options.ca ? { ca: options.ca } : {}),
        })
      : net.connect({ host, port, ...(options.lookup ? { lookup: options.lookup } : {}) });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`could not connect to ${url.origin} within ${options.connectTimeoutMs} ms`));
    }, options.connectTimeoutMs);
    const fail = (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      // A TLS server that speaks none of the protocols offered ends the handshake with an alert.
      if (err.code === 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL') reject(notOffered(url, options.require, err));
      else reject(err);
    };
    socket.once('error', fail);
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      // A server that chose no protocol by ALPN speaks HTTP/1.1.
      const chosen = secure ? (socket as tls.TLSSocket).alpnProtocol : 'h2';
      if (chosen === 'h2' || !options.require) {
        resolve(socket);
        return;
      }
      socket.destroy();
      reject(notOffered(url, options.require));
    });
  });
}

const notOffered = (url: URL, required: boolean, cause?: Error) =>
  new Error(`${url.origin} does not offer HTTP/2 (PUSH_HTTP2=${required ? 'always' : 'auto'})`, cause ? { cause } : {});

/** `promise`, or the deadline's error if `remainingMs` passes first (the promise goes on for others). */
function withDeadline<T>(promise: Promise<T>, remainingMs: number, timeoutMs: number): Promise<T> {
  if (remainingMs <= 0) return Promise.reject(deadlineError(timeoutMs));
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(deadlineError(timeoutMs)), remainingMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/**
 * One POST through undici's dispatch API. It skips the stream objects that `request()` builds
 * for every response, which cost more per push than anything but the encryption
 * (docs/performance.md). The timer is the total deadline: it aborts however far the exchange
 * has got. No redirect is ever followed: a push service never redirects, and following one
 * would send us somewhere we did not check.
 */
function viaUndici(pool: Pool, path: string, push: PushRequest, timeoutMs: number): Promise<PushResponse> {
  return new Promise((resolve, reject) => {
    pool.dispatch(
      { path, method: 'POST', headers: push.headers, body: push.body },
      new ExchangeHandler(resolve, reject, timeoutMs),
    );
  });
}

/** The state of one exchange, as an object with methods: no closures per push. */
class ExchangeHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private status = 0;
  private headers: PushResponse['headers'] = {};
  private chunks: Buffer[] | undefined;
  private kept = 0;
  private deadlinePassed = false;
  /** Resolved or rejected already (a deadline can come before undici has started the request). */
  private settled = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly resolve: (response: PushResponse) => void,
    private readonly reject: (err: unknown) => void,
    private readonly timeoutMs: number,
  ) {
    this.timer = setTimeout(passDeadline, timeoutMs, this);
  }

  /**
   * Aborts however far the exchange has got. A request still waiting for a connection is failed
   * at once, and aborted when undici starts it.
   */
  deadline(): void {
    this.deadlinePassed = true;
    const err = deadlineError(this.timeoutMs);
    if (this.controller) {
      this.controller.abort(err);
      return;
    }
    this.settled = true;
    this.reject(err);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.deadlinePassed) controller.abort(deadlineError(this.timeoutMs));
  }

  onResponseStart(_c: unknown, statusCode: number, headers: PushResponse['headers']): void {
    this.status = statusCode;
    this.headers = headers;
  }

  onResponseData(_c: unknown, chunk: Buffer): void {
    // Only an error's body is logged, and only its start.
    if (this.status >= 300 && this.kept < MAX_LOGGED_BODY) {
      (this.chunks ??= []).push(chunk);
      this.kept += chunk.length;
    }
  }

  onResponseEnd(): void {
    clearTimeout(this.timer);
    if (this.settled) return;
    this.settled = true;
    const text = this.chunks ? Buffer.concat(this.chunks).toString('utf8').slice(0, MAX_LOGGED_BODY) : '';
    this.resolve({ status: this.status, headers: this.headers, text });
  }

  onResponseError(_c: unknown, err: Error): void {
    clearTimeout(this.timer);
    if (this.settled) return;
    this.settled = true;
    this.reject(unsafeAddressIn(err) ?? err);
  }
}

function passDeadline(handler: ExchangeHandler): void {
  handler.deadline();
}

/** A push request with a header HTTP/1.1 or undici does not allow: our bug, never the push service's. */
export class InvalidPushHeaderError extends TypeError {
  readonly code = 'ERR_INVALID_PUSH_HEADER';

  constructor(readonly header: string) {
    super(`invalid push header ${JSON.stringify(header)}`);
    this.name = 'InvalidPushHeaderError';
  }
}

/** Headers undici manages itself and refuses from a caller (the framing of the exchange). */
const FRAMING = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'expect']);

/**
 * The first header whose name or value HTTP/1.1 (RFC 9110 §5.1, §5.5) or undici does not
 * allow, so that undici never refuses a request itself. Names and values are checked by
 * node:http's own rules, the same as undici's.
 */
function invalidHeader(headers: Record<string, string>, names: CheckedNames): string | undefined {
  for (const name in headers) {
    const value = headers[name]!;
    let kind = names.get(name);
    if (kind === undefined) {
      try {
        validateHeaderName(name);
      } catch {
        return name;
      }
      const lower = name.toLowerCase();
      if (FRAMING.has(lower)) return name;
      kind = lower === 'content-length' ? 'length' : 'field';
      if (names.size < MAX_CHECKED_NAMES) names.set(name, kind);
    }
    if (typeof value !== 'string' || INVALID_VALUE.test(value) || (kind === 'length' && !/^\d+$/.test(value))) return name;
  }
  return undefined;
}

/**
 * Header names that passed, and whether each is a Content-Length: a push's names are the same
 * few every time, so each is checked once per sender.
 */
type CheckedNames = Map<string, 'field' | 'length'>;
const MAX_CHECKED_NAMES = 64;

/** A character node:http refuses in a field value (its `validateHeaderValue` rule, RFC 9110 §5.5). */
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

const ignore = () => undefined;

function closePool(transport: Http1Origin, abort: boolean): Promise<void> {
  transport.dropSpare();
  return abort ? transport.pool.destroy() : transport.pool.close();
}

const refusedAfterClose = <T = PushResponse>() => Promise.reject<T>(new Error('push sender is closed'));

const isLiteral = (hostname: string) => hostname.startsWith('[') || isIP(hostname) !== 0;

/**
 * Node's sockets connect to an IP-literal host without calling `lookup`, so a literal is put
 * through the same check here.
 */
function checkLiteralHost(lookup: LookupFunction, hostname: string): Promise<void> {
  const ip = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  return new Promise((resolve, reject) => {
    lookup(ip, { all: true }, (err) => (err ? reject(err) : resolve()));
  });
}

/** undici may wrap a connect error; the caller needs the refusal itself. */
function unsafeAddressIn(err: unknown): UnsafeAddressError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof UnsafeAddressError) return e;
  }
  return undefined;
}
