import { expect } from 'chai';
import { DeliveryCheck, describeReport, type DeliveryReport } from './delivery-check.js';
import type { FaultRig } from './fault-rig.js';
import type { StreamResult } from './producer.js';

// Sizes and rates of the fault scenarios; why these: docs/decisions.md, "Fault tests".
export const FAULT_SIZES = { users: 1_000, subscriptionsPerUser: 2, dashboards: 200, origins: 3, pushConcurrency: 8 };
export const FAULT_RATE = 300;
export const FAULT_DURATION_MS = 10_000;
/** When the fault comes: once every service is busy with the stream. */
export const FAULT_AT_MS = 3_000;
/** The notify-router's route jobs in flight (ROUTE_CONCURRENCY): each may publish again when resumed. */
export const ROUTE_CONCURRENCY = 8;
/**
 * What every scenario must show: repeats within the sends in flight, and at least a second's
 * worth of events accepted (on a loaded machine the API falls behind 300/s, and while a
 * dependency is away it answers 503).
 */
export const FAULT_BOUNDS = {
  pushBound: FAULT_SIZES.pushConcurrency,
  realtimeBound: ROUTE_CONCURRENCY,
  minAccepted: FAULT_RATE,
};

export interface ScenarioSettings {
  rate: number;
  durationMs: number;
  faultAtMs: number;
  /** The fault: kill, wait, restart...; it may outlast the stream. */
  fault(): Promise<void>;
  /** Every `mqttEvery`-th event goes over MQTT (0: HTTP only). */
  mqttEvery?: number;
  drainTimeoutMs?: number;
}

export interface ScenarioOutcome {
  stream: StreamResult;
  report: DeliveryReport;
  /** For reports over a part of the accepted events. */
  check: DeliveryCheck;
  /** From the end of the stream to the last accepted event delivered. */
  drainMs: number;
}

/** Each run sends to users in a spread-out order, so that every user gets a few events. */
const userFor = (rig: FaultRig, run: number) => (i: number) => rig.users[(i * 7 + run * 13) % rig.users.length]!;
let runs = 0;

/**
 * Streams events while the fault happens, then waits for delivery to drain and reads what
 * every device got. Each run has its own event ids, so one rig can carry several scenarios.
 */
export async function runScenario(rig: FaultRig, s: ScenarioSettings): Promise<ScenarioOutcome> {
  const run = runs++;
  const check = new DeliveryCheck(rig);
  const stream = await rig.producer.stream({
    rate: s.rate,
    durationMs: s.durationMs,
    userFor: userFor(rig, run),
    mqttEvery: s.mqttEvery ?? 0,
    faultAtMs: s.faultAtMs,
    fault: s.fault,
    idPrefix: `r${run}`,
  });
  const ended = Date.now();
  const report = await check.drain(stream.accepted, s.drainTimeoutMs ?? 90_000);
  const drainMs = Date.now() - ended;
  if (process.env['TEST_SHOW_FAULT_REPORTS']) {
    process.stderr.write(
      `accepted ${stream.accepted.length}, refused ${JSON.stringify([...stream.refused])}, skipped ${stream.skipped}, ` +
        `drain ${drainMs} ms: ${describeReport(report)}\n`,
    );
  }
  return { stream, report, check, drainMs };
}

/**
 * The acceptance of issue 7: no accepted event lost (every device of its user got it by Web
 * Push, and the user's open dashboard over MQTT), and no device got more repeats than the
 * sends that can be in flight (`pushBound`: PUSH_CONCURRENCY; `realtimeBound`: the router's
 * route concurrency, or the broker's in-flight window).
 */
export function expectNothingLost(
  outcome: ScenarioOutcome,
  bounds: { pushBound: number; realtimeBound: number; minAccepted: number },
): void {
  const { report, stream } = outcome;
  const summary = describeReport(report);
  expect(stream.accepted.length, 'events accepted during the run').to.be.at.least(bounds.minAccepted);
  expect(report.missingPush, summary).to.have.length(0);
  expect(report.missingRealtime, summary).to.have.length(0);
  expect(report.maxPushRepeatsPerDevice, summary).to.be.at.most(bounds.pushBound);
  expect(report.maxRealtimeRepeatsPerDevice, summary).to.be.at.most(bounds.realtimeBound);
}

/**
 * No service died on its own: none exited and was restarted by the rig (as docker-compose would
 * have restarted it, hiding the crash from the delivery checks), and none is down now.
 */
export function expectNoServiceDied(rig: FaultRig): void {
  expect(rig.restarts, 'services that exited on their own and were restarted').to.deep.equal([]);
  expect(rig.allRunning, 'every service running').to.equal(true);
}
