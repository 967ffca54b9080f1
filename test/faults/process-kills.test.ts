import { expect } from 'chai';
import { FaultRig, type ServiceName } from './support/fault-rig.js';
import { expectNothingLost, runScenario } from './support/scenario.js';

// Sizes and why: docs/decisions.md, "Fault tests".
const SIZES = { users: 1_000, subscriptionsPerUser: 2, dashboards: 200, origins: 3, pushConcurrency: 8 };
const RATE = 300;
const DURATION_MS = 10_000;
const FAULT_AT_MS = 3_000;
/** How long a killed service stays down before it is started again. */
const DOWN_MS = 1_000;
/** The notify-router's route jobs in flight (ROUTE_CONCURRENCY): each may publish again when resumed. */
const ROUTE_CONCURRENCY = 8;

describe('the services killed with SIGKILL mid-stream and started again', function () {
  this.timeout(240_000);
  const rig = new FaultRig(SIZES);

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
        rate: RATE, durationMs: DURATION_MS, faultAtMs: FAULT_AT_MS, fault: killAndRestart(name), mqttEvery: 4,
      });
      expectNothingLost(outcome, {
        pushBound: SIZES.pushConcurrency,
        realtimeBound: ROUTE_CONCURRENCY,
        minAccepted: (RATE * DURATION_MS) / 1000 / 2,
      });
      expect(rig.allRunning, 'no service died on its own').to.equal(true);
    });
  }
});
