import { expect } from 'chai';
import { FaultRig } from './support/fault-rig.js';
import {
  expectNothingLost,
  expectNoServiceDied,
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

  // Every event a producer got a PUBACK (or a 202) for, the ones passing through the broker at
  // the kill included: the broker acknowledges a QoS 1 publish only once Redis keeps it for the
  // router's session, and the router's realtime messages only once Redis keeps them for the
  // dashboards' sessions (docs/decisions.md, "A broker killed mid-stream").
  it('loses no accepted event, over HTTP or MQTT, and every dashboard reconnects', async function () {
    const outcome = await runScenario(rig, {
      rate: FAULT_RATE, durationMs: FAULT_DURATION_MS, faultAtMs: FAULT_AT_MS, mqttEvery: 4,
      fault: async () => {
        await rig.kill('broker');
        await new Promise((r) => setTimeout(r, 1_000));
        await rig.startService('broker');
      },
    });
    expect(outcome.stream.accepted.filter((e) => e.via === 'mqtt').length, 'events acknowledged over MQTT').to.be.above(0);
    expectNothingLost(outcome, FAULT_BOUNDS);
    expect(rig.dashboards.connected, 'every dashboard reconnected').to.equal(FAULT_SIZES.dashboards);
    expectNoServiceDied(rig);
  });
});
