import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { ConfigError } from '../../shared/errors/index.js';
import { closeServer, listen } from '../../shared/lifecycle/index.js';

describe('listen', function () {
  let taken: Server;
  let takenPort: number;
  const opened: Server[] = [];

  beforeEach(async function () {
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    takenPort = (taken.address() as AddressInfo).port;
  });

  afterEach(async function () {
    await Promise.all([taken, ...opened.splice(0)].map((s) => closeServer(s)));
  });

  it('moves a default port that is taken to the next free one when allowed (npm start)', async function () {
    const server = createServer();
    opened.push(server);
    const port = await listen(server, {
      host: '127.0.0.1', setting: { port: takenPort, explicit: false }, variable: 'MQTT_PORT', moveWhenTaken: true,
    });
    expect(port).to.be.above(takenPort);
  });

  it('fails naming the variable when an explicitly set port is taken', async function () {
    const server = createServer();
    opened.push(server);
    const attempt = listen(server, {
      host: '127.0.0.1', setting: { port: takenPort, explicit: true }, variable: 'MQTT_PORT', moveWhenTaken: true,
    });
    const err = await attempt.then(() => null, (e: unknown) => e);
    expect(err).to.be.instanceOf(ConfigError);
    expect((err as Error).message).to.contain('MQTT_PORT').and.to.contain(String(takenPort));
  });

  it('never moves the port of a service started alone', async function () {
    const server = createServer();
    opened.push(server);
    const attempt = listen(server, {
      host: '127.0.0.1', setting: { port: takenPort, explicit: false }, variable: 'HTTP_PORT', moveWhenTaken: false,
    });
    const err = await attempt.then(() => null, (e: unknown) => e);
    expect((err as Error).message).to.contain('HTTP_PORT');
  });
});
