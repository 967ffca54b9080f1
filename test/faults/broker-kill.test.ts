import { expect } from 'chai';
import { FaultRig } from './support/fault-rig.js';
import {
  expectNothingLost,
  FAULT_AT_MS,
  FAULT_BOUNDS,
  FAULT_DURATION_MS,
  FAULT_RATE,
  FAULT_SIZES,
  runScenario,
} from './support/scenario.js';

describe('the broker killed with SIGKILL mid-stream and started again', function () {
  this.timeout(240_000);
  // Persistent sessions outlive a broker only in Redis (MQTT_CLUSTER): in memory they die with it.
  const rig = new FaultRig(FAULT_SIZES, { MQTT_CLUSTER: 'true' });

  before(async function () {
    await rig.start();
  });

  after(async function () {
    await rig.close();
  });

  it('loses no accepted event: dashboards reconnect to their sessions and get what was published meanwhile', async function () {
    const outcome = await runScenario(rig, {
      rate: FAULT_RATE, durationMs: FAULT_DURATION_MS, faultAtMs: FAULT_AT_MS, mqttEvery: 4,
      fault: async () => {
        await rig.kill('broker');
        await new Promise((r) => setTimeout(r, 1_000));
        await rig.startService('broker');
      },
    });
    expectNothingLost(outcome, FAULT_BOUNDS);
    expect(rig.dashboards.connected, 'every dashboard reconnected').to.equal(FAULT_SIZES.dashboards);
    expect(rig.allRunning, 'no service died on its own').to.equal(true);
  });
});
