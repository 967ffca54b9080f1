import { validateHeaderName, validateHeaderValue } from 'node:http';
import { isIP, type LookupFunction } from 'node:net';
import { Pool, type Dispatcher } from 'undici';
import { UnsafeAddressError } from './safe-lookup.js';

export interface PushRequest {
  endpoint: string;
  /** `endpoint` already parsed, when the caller has it: saves parsing it again per send. */
  url?: URL;
  headers: Record<string, string>;
  body: Buffer;
}

export interface PushResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The first bytes of the push service's answer, for logs. */
  text: string;
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

const MAX_LOGGED_BODY = 512;
const MAX_CHECKED_LITERALS = 1000;

/**
 * Web Push over undici: one keep-alive pool per push-service origin, so a TLS handshake is
 * paid once per connection rather than per message, and a total deadline per request (undici's
 * own timeouts are idle timeouts; the abort signal bounds the whole exchange).
 *
 * `lookup` (see `createSafeLookup`) decides which addresses a new connection may go to.
 */
export function createWebPushSender(options: {
  timeoutMs: number;
  connectionsPerOrigin: number;
  lookup?: LookupFunction;
  /** Certificate authorities to trust instead of Node's (tests: a private CA). */
  ca?: string | Buffer;
}): PushSender {
  const { lookup } = options;
  // One pool per origin, kept: a request goes straight to its pool without the URL parsing
  // and dispatcher lookup of undici's request(url).
  const pools = new Map<string, Pool>();
  const poolFor = (origin: string) => {
    let pool = pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: options.connectionsPerOrigin,
        keepAliveTimeout: 60_000,
        connect: {
          timeout: Math.min(options.timeoutMs, 10_000),
          ...(lookup ? { lookup } : {}),
          ...(options.ca ? { ca: options.ca } : {}),
        },
      });
      pools.set(origin, pool);
    }
    return pool;
  };
  // IP-literal hosts that passed the lookup's check: an address's verdict never changes, so
  // it is checked once, not per send.
  const checkedLiterals = new Set<string>();
  const checkLiteral = async (hostname: string) => {
    await checkLiteralHost(lookup!, hostname);
    if (checkedLiterals.size >= MAX_CHECKED_LITERALS) checkedLiterals.clear();
    checkedLiterals.add(hostname);
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
      const { hostname, origin } = url;
      const path = url.search ? `${url.pathname}${url.search}` : url.pathname;
      if (lookup && !checkedLiterals.has(hostname) && isLiteral(hostname)) {
        return checkLiteral(hostname).then(() =>
          closed ? refusedAfterClose() : exchange(poolFor(origin), path, push, options.timeoutMs),
        );
      }
      return exchange(poolFor(origin), path, push, options.timeoutMs);
    },
    async close({ abort = false } = {}) {
      closed = true;
      await Promise.all([...pools.values()].map((pool) => (abort ? pool.destroy() : pool.close())));
      pools.clear();
    },
  };
}

/**
 * One POST through undici's dispatch API. It skips the stream objects that `request()` builds
 * for every response, which cost more per push than anything but the encryption
 * (docs/performance.md). The timer is the total deadline: it aborts however far the exchange
 * has got. No redirect is ever followed: a push service never redirects, and following one
 * would send us somewhere we did not check.
 */
function exchange(pool: Pool, path: string, push: PushRequest, timeoutMs: number): Promise<PushResponse> {
  return new Promise((resolve, reject) => {
    // undici refuses such headers itself, but a refused request leaves its connection waiting
    // for a 'drain' that never comes (undici 7.30): every later send to that origin would hang.
    const invalid = invalidHeader(push.headers);
    if (invalid !== undefined) {
      reject(new InvalidPushHeaderError(invalid));
      return;
    }
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
    const err = new Error(`no complete answer within ${this.timeoutMs} ms`);
    if (this.controller) {
      this.controller.abort(err);
      return;
    }
    this.settled = true;
    this.reject(err);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.deadlinePassed) controller.abort(new Error(`no complete answer within ${this.timeoutMs} ms`));
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
function invalidHeader(headers: Record<string, string>): string | undefined {
  for (const name in headers) {
    const value = headers[name]!;
    try {
      validateHeaderName(name);
      validateHeaderValue(name, value);
    } catch {
      return name;
    }
    const lower = name.toLowerCase();
    if (FRAMING.has(lower) || (lower === 'content-length' && !/^\d+$/.test(value))) return name;
  }
  return undefined;
}

const refusedAfterClose = () => Promise.reject<PushResponse>(new Error('push sender is closed'));

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
