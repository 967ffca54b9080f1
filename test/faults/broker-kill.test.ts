import { expect } from 'chai';
import { describeReport } from './support/delivery-check.js';
import { FaultRig } from './support/fault-rig.js';
import {
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

  // Not asserted here: events passing through the broker in the second or two before the kill.
  // Some of those are lost (realtime messages the broker had acknowledged to the router, and
  // events it had acknowledged to an MQTT producer): a known gap, docs/decisions.md "Fault tests".
  it('delivers every event accepted over HTTP by Web Push, and everything accepted once it is back; dashboards reconnect', async function () {
    const back = { at: Infinity };
    const outcome = await runScenario(rig, {
      rate: FAULT_RATE, durationMs: FAULT_DURATION_MS, faultAtMs: FAULT_AT_MS, mqttEvery: 4,
      // What the kill loses never arrives: no need to wait the full drain time for it.
      drainTimeoutMs: 45_000,
      fault: async () => {
        await rig.kill('broker');
        await new Promise((r) => setTimeout(r, 1_000));
        await rig.startService('broker');
        back.at = Date.now();
      },
    });
    const { stream, check } = outcome;
    const viaHttp = check.report(stream.accepted.filter((e) => e.via === 'http'));
    expect(viaHttp.missingPush, describeReport(viaHttp)).to.have.length(0);
    const afterRestart = stream.accepted.filter((e) => e.sentAt > back.at);
    expect(afterRestart.length, 'events accepted after the restart').to.be.above(0);
    const recovered = check.report(afterRestart);
    expect(recovered.missingPush, describeReport(recovered)).to.have.length(0);
    expect(recovered.missingRealtime, describeReport(recovered)).to.have.length(0);
    expect(outcome.report.maxPushRepeatsPerDevice, describeReport(outcome.report)).to.be.at.most(FAULT_BOUNDS.pushBound);
    expect(outcome.report.maxRealtimeRepeatsPerDevice, describeReport(outcome.report)).to.be.at.most(FAULT_BOUNDS.realtimeBound);
    expect(rig.dashboards.connected, 'every dashboard reconnected').to.equal(FAULT_SIZES.dashboards);
    expectNoServiceDied(rig);
  });
});
