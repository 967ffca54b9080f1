import { FaultRig, type ServiceName } from './support/fault-rig.js';
import {
  expectNoServiceDied,
  expectNothingLost,
  FAULT_AT_MS,
  FAULT_BOUNDS,
  FAULT_DURATION_MS,
  FAULT_RATE,
  FAULT_SIZES,
  runScenario,
} from './support/scenario.js';

/** How long a killed service stays down before it is started again. */
const DOWN_MS = 1_000;

describe('the services killed with SIGKILL mid-stream and started again', function () {
  this.timeout(240_000);
  const rig = new FaultRig(FAULT_SIZES);

  before(async function () {
    await rig.start();
  });

  after(async function () {
    await rig.close();
  });

  const killAndRestart = (name: ServiceName) => async () => {
    await rig.kill(name);
    await new Promise((r) => setTimeout(r, DOWN_MS));
    await rig.startService(name);
  };

  for (const name of ['push-worker', 'notify-router', 'subscription-api'] as const) {
    it(`loses no accepted event when the ${name} is killed`, async function () {
      const outcome = await runScenario(rig, {
        rate: FAULT_RATE, durationMs: FAULT_DURATION_MS, faultAtMs: FAULT_AT_MS, fault: killAndRestart(name), mqttEvery: 4,
      });
      expectNothingLost(outcome, FAULT_BOUNDS);
      expectNoServiceDied(rig);
    });
  }
});
