import type { IncomingHttpHeaders } from 'node:http';
import { startLoopbackHttpServer, type AnyRequest, type AnyResponse, type LoopbackHttpServer } from './loopback-http-server.js';
import { checkPushRequest, type PushFindings, type RegisteredBrowser } from './push-request-checks.js';

/**
 * How the service answers one request: a status (with headers and a body), `hang` (never
 * answer), or `reset` (destroy the connection once the request has arrived).
 */
export type PushAnswer =
  | number
  | { status: number; headers?: Record<string, string>; body?: string }
  | 'hang'
  | 'reset';

export interface ReceivedPush extends PushFindings {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** When the request arrived (epoch ms). */
  at: number;
  /** `1.1` or `2.0`. */
  httpVersion: string;
  answer: PushAnswer;
}

/**
 * A push service on loopback, as FCM or autopush would be: records every request with what
 * a real push service would find wrong with it (see push-request-checks.ts), and answers each
 * path from its script (201 by default). HTTP/1.1 (node:http), or with `http2` HTTP/2 with
 * prior knowledge (node:http2: the independent implementation the worker's own client is held
 * to; the worker reaches it with `PUSH_HTTP2=always`).
 */
export class LocalPushService {
  readonly received: ReceivedPush[] = [];
  private readonly scripts = new Map<string, PushAnswer[]>();
  private readonly browsers = new Map<string, RegisteredBrowser>();
  private readonly waiters: (() => void)[] = [];
  private server: LoopbackHttpServer | undefined;
  origin = '';

  constructor(private readonly options: { http2?: boolean } = {}) {}

  async start(): Promise<this> {
    this.server = await startLoopbackHttpServer(this.options.http2 ?? false, (req, res) => this.handle(req, res));
    this.origin = this.server.origin;
    return this;
  }

  /** The endpoint URL for `path`, answered with `status`. */
  endpoint(path: string, status = 201): string {
    return this.script(path, status);
  }

  /**
   * The endpoint URL for `path`, answered with `answers` in turn; the last one answers every
   * request after it.
   */
  script(path: string, ...answers: PushAnswer[]): string {
    this.scripts.set(path, answers.length > 0 ? [...answers] : [201]);
    return `${this.origin}${path}`;
  }

  /** Tells the service which browser subscribed at `path`, so that it can decrypt its pushes. */
  registerBrowser(path: string, browser: RegisteredBrowser): void {
    this.browsers.set(path, browser);
  }

  requestsTo(path: string): ReceivedPush[] {
    return this.received.filter((r) => r.path === path);
  }

  /** Every request that a real push service would have refused, with its reasons. */
  rejected(): { path: string; problems: string[] }[] {
    return this.received.filter((r) => r.problems.length > 0).map(({ path, problems }) => ({ path, problems }));
  }

  /** Resolves once `count` requests reached `path`; rejects after `timeoutMs`. */
  async waitFor(path: string, count = 1, timeoutMs = 10_000): Promise<ReceivedPush[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.requestsTo(path).length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${count} push(es) to ${path}, got ${this.requestsTo(path).length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.requestsTo(path);
  }

  async close(): Promise<void> {
    // Also ends the requests left hanging.
    await this.server?.close();
  }

  private handle(req: AnyRequest, res: AnyResponse): void {
    const at = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const body = Buffer.concat(chunks);
      const answer = this.nextAnswer(path);
      const findings = checkPushRequest(
        { method: req.method ?? '', headers: req.headers, body },
        { origin: this.origin, arrivedAt: at, browser: this.browsers.get(path) },
      );
      this.received.push({ path, headers: req.headers, body, at, httpVersion: req.httpVersion, answer, ...findings });
      if (answer === 'reset') {
        if ('stream' in req) req.stream.session?.destroy();
        else req.socket.resetAndDestroy();
      } else if (answer !== 'hang') {
        const { status, headers, body: text } = typeof answer === 'number' ? { status: answer } : answer;
        res.writeHead(status, headers);
        res.end(text ?? '');
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  private nextAnswer(path: string): PushAnswer {
    const script = this.scripts.get(path);
    if (!script) return 201;
    return (script.length > 1 ? script.shift() : script[0]) ?? 201;
  }
}
