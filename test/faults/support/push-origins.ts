import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * How one push service behaves right now: `ok` answers 201 at once; `slow` answers 201 after
 * `slowMs`; `reset` destroys the connection once the request has arrived (no answer).
 */
export type OriginMode = 'ok' | 'slow' | 'reset';

export interface Delivery {
  body: Buffer;
  /** When the request's body had arrived (epoch ms). */
  at: number;
}

/**
 * One push service on loopback. A request counts as delivered when the service decides to
 * accept it (201), before the answer is written: a real push service has the message by then,
 * even if the sender dies before reading the answer. A reset or one still waiting to be
 * answered slowly is not delivered (yet).
 */
export class PushOrigin {
  readonly delivered = new Map<string, Delivery[]>();
  mode: OriginMode = 'ok';
  slowMs = 3_000;
  /** Requests refused by a reset, for the test to see that the fault really happened. */
  resets = 0;
  private server: Server | undefined;
  origin = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    // Keep-alive connections of the workers stay open across the whole run.
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  endpoint(path: string): string {
    return `${this.origin}${path}`;
  }

  get deliveredCount(): number {
    let n = 0;
    for (const list of this.delivered.values()) n += list.length;
    return n;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    // A sender killed mid-request, or one that gave up on a slow answer: expected here.
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const accept = () => {
        const list = this.delivered.get(path) ?? [];
        list.push({ body: Buffer.concat(chunks), at: Date.now() });
        this.delivered.set(path, list);
        res.writeHead(201).end();
      };
      if (this.mode === 'reset') {
        this.resets++;
        req.socket.resetAndDestroy();
      } else if (this.mode === 'slow') {
        // Answered late, unless the sender gave up first (then it was never accepted).
        const gaveUp = () => clearTimeout(timer);
        const timer = setTimeout(() => {
          req.socket.off('close', gaveUp);
          if (!req.socket.destroyed) accept();
        }, this.slowMs);
        req.socket.once('close', gaveUp);
      } else {
        accept();
      }
    });
  }
}

/** Several push services at once (as FCM, autopush, Apple...), each with its own origin. */
export async function startPushOrigins(count: number): Promise<PushOrigin[]> {
  return Promise.all(Array.from({ length: count }, () => new PushOrigin().start()));
}
