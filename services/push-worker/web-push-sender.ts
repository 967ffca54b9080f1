import { isIP, type LookupFunction } from 'node:net';
import { Agent, request } from 'undici';
import { UnsafeAddressError } from './safe-lookup.js';

export interface PushRequest {
  endpoint: string;
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
  const agent = new Agent({
    connections: options.connectionsPerOrigin,
    keepAliveTimeout: 60_000,
    connect: { timeout: Math.min(options.timeoutMs, 10_000), ...(lookup ? { lookup } : {}) },
  });
  return {
    async send(push) {
      try {
        if (lookup) await checkLiteralHost(lookup, push.endpoint);
        const res = await request(push.endpoint, {
          method: 'POST',
          headers: push.headers,
          body: push.body,
          dispatcher: agent,
          // undici follows no redirects unless asked to: a push service never redirects, and
          // following one would let an endpoint send us somewhere we did not check.
          signal: AbortSignal.timeout(options.timeoutMs),
        });
        const text = (await res.body.text()).slice(0, MAX_LOGGED_BODY);
        return { status: res.statusCode, headers: res.headers, text };
      } catch (err) {
        throw unsafeAddressIn(err) ?? err;
      }
    },
    close: () => agent.close(),
  };
}

/**
 * Node's sockets connect to an IP-literal host without calling `lookup`, so a literal is put
 * through the same check here.
 */
function checkLiteralHost(lookup: LookupFunction, endpoint: string): Promise<void> {
  const { hostname } = new URL(endpoint);
  const ip = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  if (!isIP(ip)) return Promise.resolve();
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
