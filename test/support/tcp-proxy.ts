import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP forwarder in front of a real server (MariaDB, Redis) that a test can freeze: bytes are
 * held in both directions while frozen and delivered on thaw, as a hung network or a stalled
 * server looks to a client. The shared servers themselves are never touched.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly held: (() => void)[] = [];
  private frozen = false;
  private down = false;
  port = 0;
  /** Connections clients opened to the proxy so far, also those refused while it was down. */
  connections = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<this> {
    this.server = createServer((client) => {
      this.connections += 1;
      if (this.down) {
        client.destroy();
        return;
      }
      const upstream = connect(this.targetPort, this.targetHost);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      this.forward(client, upstream);
      this.forward(upstream, client);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  freeze(): void {
    this.frozen = true;
  }

  thaw(): void {
    this.frozen = false;
    for (const deliver of this.held.splice(0)) deliver();
  }

  /** The server is gone: open connections are cut, new ones closed at once. */
  takeDown(): void {
    this.down = true;
    for (const socket of this.sockets) socket.destroy();
  }

  bringUp(): void {
    this.down = false;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  private forward(from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (this.frozen) this.held.push(() => to.write(chunk));
      else to.write(chunk);
    });
    from.on('end', () => to.end());
  }
}
