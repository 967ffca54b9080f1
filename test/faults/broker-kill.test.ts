import { expect } from 'chai';
import { FaultRig } from './support/fault-rig.js';
import { expectNothingLost, runScenario } from './support/scenario.js';

// Sizes and why: docs/decisions.md, "Fault tests".
const SIZES = { users: 1_000, subscriptionsPerUser: 2, dashboards: 200, origins: 3, pushConcurrency: 8 };
const RATE = 300;
const DURATION_MS = 10_000;
const FAULT_AT_MS = 3_000;
const DOWN_MS = 1_000;
/** The router's route jobs in flight, each of which may publish again when retried. */
const ROUTE_CONCURRENCY = 8;

describe('the broker killed with SIGKILL mid-stream and started again', function () {
  this.timeout(240_000);
  // Persistent sessions outlive a broker only in Redis (MQTT_CLUSTER): in memory they die with it.
  const rig = new FaultRig(SIZES, { MQTT_CLUSTER: 'true' });

  before(async function () {
    await rig.start();
  });

  after(async function () {
    await rig.close();
  });

  it('loses no accepted event: dashboards reconnect to their sessions and get what was published meanwhile', async function () {
    const outcome = await runScenario(rig, {
      rate: RATE, durationMs: DURATION_MS, faultAtMs: FAULT_AT_MS, mqttEvery: 4,
      fault: async () => {
        await rig.kill('broker');
        await new Promise((r) => setTimeout(r, DOWN_MS));
        await rig.startService('broker');
      },
    });
    expectNothingLost(outcome, {
      pushBound: SIZES.pushConcurrency,
      realtimeBound: ROUTE_CONCURRENCY,
      minAccepted: (RATE * DURATION_MS) / 1000 / 2,
    });
    expect(rig.dashboards.connected, 'every dashboard reconnected').to.equal(SIZES.dashboards);
    expect(rig.allRunning, 'no service died on its own').to.equal(true);
  });
});
