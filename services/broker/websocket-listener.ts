import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { Logger } from '../../shared/logging/index.js';
import { clientAddress } from './connection-limits.js';

export interface WebSocketListener {
  http: Server;
  /** Ends every WebSocket at once (on shutdown, after aedes has let its clients go). */
  terminateAll(): void;
}

/**
 * MQTT over WebSocket at `/mqtt`: an HTTP server whose upgrades become MQTT byte streams. Each
 * upgrade is counted against its client's address (behind a trusted reverse proxy, the address
 * the proxy forwards) before the WebSocket handshake.
 */
export function createWebSocketListener(deps: {
  /** Largest WebSocket message; an MQTT packet may not be larger anyway. */
  maxMessageBytes: number;
  trustedProxies: readonly string[];
  admit(address: string, socket: Duplex): boolean;
  handle(stream: Duplex, address: string, req: IncomingMessage): void;
  log: Logger;
}): WebSocketListener {
  const { log } = deps;
  const trusted = new Set(deps.trustedProxies);
  const http = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket lives at /mqtt');
  });
  // noServer: the HTTP server's own errors (a taken port) stay with `listen`, not with ws.
  const wss = new WebSocketServer({ noServer: true, maxPayload: deps.maxMessageBytes });
  const addresses = new WeakMap<IncomingMessage, string>();
  http.on('upgrade', (req, socket, head) => {
    // Node takes its own error listener off an upgraded socket: a reset here must not crash us.
    socket.on('error', () => socket.destroy());
    // The path alone, without parsing: a target such as `//[` makes `new URL` throw.
    if ((req.url ?? '/').split('?')[0] !== '/mqtt') {
      socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
      return;
    }
    const forwarded = req.headers['x-forwarded-for'];
    const address = clientAddress(req.socket.remoteAddress, Array.isArray(forwarded) ? forwarded.join(',') : forwarded, trusted);
    if (!deps.admit(address, socket)) {
      socket.end('HTTP/1.1 429 Too Many Requests\r\n\r\n');
      return;
    }
    addresses.set(req, address);
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  wss.on('connection', (ws, req: IncomingMessage) => {
    const stream = createWebSocketStream(ws);
    stream.on('error', (err) => log.debug({ err: err.message }, 'websocket stream error'));
    deps.handle(stream, addresses.get(req) ?? 'unknown', req);
  });
  wss.on('error', (err) => log.warn({ err: err.message }, 'websocket server error'));
  return {
    http,
    terminateAll() {
      for (const client of wss.clients) client.terminate();
    },
  };
}
