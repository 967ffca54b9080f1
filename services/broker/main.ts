import { runProcess } from '../../shared/lifecycle/index.js';
import { startBroker } from './start-broker.js';

await runProcess('broker', async ({ config, log, started }) => {
  started.push(await startBroker({ config: config.broker, log }));
});
