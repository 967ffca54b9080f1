import { Agent, request } from 'undici';

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
  /** Resolves with the push service's answer; rejects on timeout or a connection failure. */
  send(push: PushRequest): Promise<PushResponse>;
  close(): Promise<void>;
}

const MAX_LOGGED_BODY = 512;

/**
 * Web Push over undici: one keep-alive pool per push-service origin, so a TLS handshake is
 * paid once per connection rather than per message, and a total deadline per request (undici's
 * own timeouts are idle timeouts; the abort signal bounds the whole exchange).
 */
export function createWebPushSender(options: {
  timeoutMs: number;
  connectionsPerOrigin: number;
}): PushSender {
  const agent = new Agent({
    connections: options.connectionsPerOrigin,
    keepAliveTimeout: 60_000,
    connect: { timeout: Math.min(options.timeoutMs, 10_000) },
  });
  return {
    async send(push) {
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
    },
    close: () => agent.close(),
  };
}
