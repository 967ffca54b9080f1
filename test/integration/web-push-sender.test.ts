import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { createWebPushSender } from '../../services/push-worker/web-push-sender.js';

describe('createWebPushSender', function () {
  let server: Server;
  let origin: string;
  const sockets = new Set<unknown>();

  before(async function () {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/trickle') {
          // Headers at once, then a byte every 50 ms: an idle-socket timeout never fires. An
          // error's body is read for the log, so the deadline has to cut it short.
          res.writeHead(503, { 'content-type': 'text/plain' });
          const timer = setInterval(() => res.write('.'), 50);
          res.on('close', () => clearInterval(timer));
          return;
        }
        res.writeHead(201).end();
      });
    });
    server.on('connection', (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async function () {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const push = (path: string) => ({ endpoint: `${origin}${path}`, headers: { ttl: '60' }, body: Buffer.from('x') });

  it('gives up on a push service that never finishes its answer, at the total deadline', async function () {
    const sender = createWebPushSender({ timeoutMs: 300, connectionsPerOrigin: 2 });
    const started = Date.now();
    const failure = await sender.send(push('/trickle')).then(() => null, (err: unknown) => err);
    await sender.close();

    expect(failure).to.be.instanceOf(Error);
    expect(Date.now() - started).to.be.within(250, 1_500);
  });

  it('reuses kept-alive connections per origin instead of opening one per message', async function () {
    sockets.clear();
    const sender = createWebPushSender({ timeoutMs: 2_000, connectionsPerOrigin: 2 });
    for (let i = 0; i < 20; i++) await Promise.all([sender.send(push('/ok')), sender.send(push('/ok'))]);
    await sender.close();

    expect(sockets.size).to.be.at.most(2);
  });
});
