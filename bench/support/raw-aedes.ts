/**
 * A bare aedes broker for `bench:realtime`'s baseline: no authentication, no ACL, no presence,
 * in its own process as the project's broker runs. Tells its parent the port it listens on.
 */
import { createServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';

const broker = await Aedes.createBroker();
const server = createServer({ noDelay: true }, broker.handle);
server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'listening', port: (server.address() as AddressInfo).port });
});
process.on('disconnect', () => {
  server.close();
  broker.close(() => process.exit(0));
});
