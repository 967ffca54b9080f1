import { expect } from 'chai';
import { FaultRig } from './support/fault-rig.js';
import type { DeliveryReport } from './support/delivery-check.js';
import { expectNothingLost, FAULT_BOUNDS, FAULT_SIZES, runScenario } from './support/scenario.js';

// Sizes and why: docs/decisions.md, "Fault tests". 40 events/s: a baseline that keeps up, to
// compare latencies with. Four push services: one answers slowly, one resets every connection,
// two are healthy and must not notice.
const SIZES = { ...FAULT_SIZES, origins: 4 };
const RATE = 40;
const DURATION_MS = 10_000;
/** Beyond PUSH_TIMEOUT_MS: the worker gives up on each request and tries again later. */
const SLOW_ANSWER_MS = 4_000;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function healthyLatency(report: DeliveryReport, healthy: string[]) {
  const all = healthy.flatMap((o) => report.latencyByOrigin.get(o) ?? []);
  return { p50: percentile(all, 50), p95: percentile(all, 95), count: all.length };
}

describe('a push service that answers slowly or resets connections', function () {
  this.timeout(240_000);
  const rig = new FaultRig(SIZES, { PUSH_TIMEOUT_MS: '2000' });

  before(async function () {
    await rig.start();
  });

  after(async function () {
    await rig.close();
  });

  it('does not slow deliveries through the other push services, and everything arrives once it recovers', async function () {
    const [slow, resetting, ...healthy] = rig.origins;
    const healthyOrigins = healthy.map((o) => o.origin);
    const bounds = { ...FAULT_BOUNDS, minAccepted: (RATE * DURATION_MS) / 1000 / 2 };

    const baseline = await runScenario(rig, { rate: RATE, durationMs: DURATION_MS, faultAtMs: 0, fault: async () => undefined });
    expectNothingLost(baseline, bounds);

    slow!.slowMs = SLOW_ANSWER_MS;
    const faulted = await runScenario(rig, {
      rate: RATE, durationMs: DURATION_MS, faultAtMs: 0,
      fault: async () => {
        slow!.mode = 'slow';
        resetting!.mode = 'reset';
        // The faults last as long as the stream, then the services recover.
        await new Promise((r) => setTimeout(r, DURATION_MS));
        slow!.mode = 'ok';
        resetting!.mode = 'ok';
      },
    });
    expect(resetting!.resets, 'the resetting service was tried').to.be.above(0);
    expectNothingLost(faulted, bounds);

    const before = healthyLatency(baseline.report, healthyOrigins);
    const during = healthyLatency(faulted.report, healthyOrigins);
    if (process.env['TEST_SHOW_FAULT_REPORTS']) {
      process.stderr.write(`healthy push services: without faults ${JSON.stringify(before)}, with ${JSON.stringify(during)}\n`);
    }
    // Generous margins: the machine is shared, and a slow send occupies a core for nothing.
    expect(during.p50, JSON.stringify({ before, during })).to.be.at.most(Math.max(3 * before.p50, before.p50 + 500));
    expect(during.p95, JSON.stringify({ before, during })).to.be.at.most(Math.max(3 * before.p95, before.p95 + 1_000));
  });
});
