import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

export type AnyRequest = IncomingMessage | http2.Http2ServerRequest;
export type AnyResponse = ServerResponse | http2.Http2ServerResponse;

/** A plain-HTTP server on 127.0.0.1, port 0, for push-service stand-ins. */
export interface LoopbackHttpServer {
  /** `http://127.0.0.1:<port>`. */
  origin: string;
  port: number;
  /** node:http's or node:http2's server, for its events. */
  server: Server | http2.Http2Server;
  /** Closes the server and every connection, requests left hanging included. */
  close(): Promise<void>;
}

/**
 * Starts `handle` on node:http (HTTP/1.1) or, with `http2`, on node:http2 with prior knowledge
 * (its compatibility API gives the same request and response calls).
 */
export async function startLoopbackHttpServer(
  http2Server: boolean,
  handle: (req: AnyRequest, res: AnyResponse) => void,
): Promise<LoopbackHttpServer> {
  const sessions = new Set<http2.ServerHttp2Session>();
  let server: Server | http2.Http2Server;
  if (http2Server) {
    const h2 = http2.createServer(handle);
    h2.on('session', (session) => {
      sessions.add(session);
      session.once('close', () => sessions.delete(session));
    });
    server = h2;
  } else {
    server = createServer(handle);
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    server,
    async close() {
      if ('closeAllConnections' in server) server.closeAllConnections();
      for (const session of sessions) session.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
