import type { IncomingHttpHeaders } from 'node:http';
import { startLoopbackHttpServer, type AnyRequest, type AnyResponse, type LoopbackHttpServer } from './loopback-http-server.js';

export interface CountedPush {
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** When the body had arrived, as `performance.now()`. */
  at: number;
  /** `1.1` or `2.0`. */
  httpVersion: string;
  /** When the 201 was written, as `performance.now()` (a dead sender never reads it). */
  answeredAt?: number;
}

/**
 * A push service on loopback that counts every request per endpoint path and answers 201 after
 * `delayMs`, so that a large send takes long enough to be interrupted. A request counts once
 * its body has arrived, before the answer: a real push service has the message by then, even
 * if the sender dies before reading the 201.
 */
export class CountingPushService {
  readonly byPath = new Map<string, CountedPush[]>();
  private readonly waiters: (() => void)[] = [];
  private server: LoopbackHttpServer | undefined;
  origin = '';

  /** `http2`: HTTP/2 with prior knowledge (node:http2) instead of HTTP/1.1. */
  constructor(
    private readonly delayMs: number,
    private readonly options: { http2?: boolean } = {},
  ) {}

  async start(): Promise<this> {
    const handle = (req: AnyRequest, res: AnyResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '/';
        const push: CountedPush = {
          headers: req.headers,
          body: Buffer.concat(chunks),
          at: performance.now(),
          httpVersion: req.httpVersion,
        };
        this.byPath.set(path, [...(this.byPath.get(path) ?? []), push]);
        for (const wake of this.waiters.splice(0)) wake();
        setTimeout(() => {
          push.answeredAt = performance.now();
          res.writeHead(201);
          res.end();
        }, this.delayMs);
      });
      // The sender may die mid-request; that is the point of the test, not an error.
      req.on('error', () => undefined);
      res.on('error', () => undefined);
    };
    this.server = await startLoopbackHttpServer(this.options.http2 ?? false, handle);
    this.origin = this.server.origin;
    return this;
  }

  endpoint(path: string): string {
    return `${this.origin}${path}`;
  }

  /** How many distinct endpoints have received at least one request. */
  get reached(): number {
    return this.byPath.size;
  }

  /** Resolves once `count` distinct endpoints have been reached; rejects after `timeoutMs`. */
  async waitForReached(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.reached < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`expected ${count} endpoints reached, got ${this.reached}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 500));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    await this.server?.close();
  }
}
