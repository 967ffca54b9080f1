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
  close(): Promise<void>;
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
        connect: { timeout: Math.min(options.timeoutMs, 10_000), ...(lookup ? { lookup } : {}) },
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
  return {
    send(push) {
      let url: URL;
      try {
        url = push.url ?? new URL(push.endpoint);
      } catch (err) {
        return Promise.reject(err);
      }
      const { hostname, origin } = url;
      const path = url.search ? `${url.pathname}${url.search}` : url.pathname;
      if (lookup && !checkedLiterals.has(hostname) && isLiteral(hostname)) {
        return checkLiteral(hostname).then(() => exchange(poolFor(origin), path, push, options.timeoutMs));
      }
      return exchange(poolFor(origin), path, push, options.timeoutMs);
    },
    async close() {
      await Promise.all([...pools.values()].map((pool) => pool.close()));
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
    let controller: Dispatcher.DispatchController | undefined;
    let status = 0;
    let headers: PushResponse['headers'] = {};
    const chunks: Buffer[] = [];
    let kept = 0;
    let deadlinePassed = false;
    const timer = setTimeout(() => {
      deadlinePassed = true;
      controller?.abort(new Error(`no complete answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (err: Error | null) => {
      clearTimeout(timer);
      if (err) reject(unsafeAddressIn(err) ?? err);
      else resolve({ status, headers, text: Buffer.concat(chunks).toString('utf8').slice(0, MAX_LOGGED_BODY) });
    };
    pool.dispatch(
      { path, method: 'POST', headers: push.headers, body: push.body },
      {
        onRequestStart(c) {
          controller = c;
          if (deadlinePassed) c.abort(new Error(`no complete answer within ${timeoutMs} ms`));
        },
        onResponseStart(_c, statusCode, responseHeaders) {
          status = statusCode;
          headers = responseHeaders;
        },
        onResponseData(_c, chunk) {
          // Only an error's body is logged, and only its start.
          if (status >= 300 && kept < MAX_LOGGED_BODY) {
            chunks.push(chunk);
            kept += chunk.length;
          }
        },
        onResponseEnd() {
          finish(null);
        },
        onResponseError(_c, err) {
          finish(err);
        },
      },
    );
  });
}

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
