import { expect } from 'chai';
import { FaultRig } from './support/fault-rig.js';
import {
  expectNoServiceDied,
  expectNothingLost,
  FAULT_AT_MS,
  FAULT_BOUNDS as bounds,
  FAULT_DURATION_MS,
  FAULT_RATE as RATE,
  FAULT_SIZES,
  runScenario,
} from './support/scenario.js';

describe('Redis and MariaDB going away mid-stream', function () {
  this.timeout(240_000);
  const rig = new FaultRig(FAULT_SIZES);
  let pidsBefore: Record<string, number | undefined>;

  before(async function () {
    await rig.start();
  });

  beforeEach(function () {
    pidsBefore = rig.pids();
  });

  after(async function () {
    await rig.close();
  });

  /**
   * The same processes as before the fault, all running: none exited (the rig restarts one that
   * does, as docker-compose would) and none was started again.
   */
  function expectNoServiceRestarted(): void {
    expectNoServiceDied(rig);
    expect(rig.pids(), 'pid of each service').to.deep.equal(pidsBefore);
  }

  it('loses no accepted event when Redis (AOF on) is killed and started again on its port and data', async function () {
    const outcome = await runScenario(rig, {
      rate: RATE, durationMs: FAULT_DURATION_MS, faultAtMs: FAULT_AT_MS, mqttEvery: 4,
      fault: async () => {
        await rig.redis.kill();
        await new Promise((r) => setTimeout(r, 1_000));
        await rig.redis.start();
      },
    });
    expectNothingLost(outcome, bounds);
    expectNoServiceRestarted();
  });

  it('answers 503 with Retry-After while MariaDB is down for 10 s, then delivers everything accepted without a restart', async function () {
    // Push services that take 200 ms per answer keep a backlog of push jobs waiting when the
    // database goes: the workers must retry those through the outage, not use up their attempts.
    for (const origin of rig.origins) {
      origin.slowMs = 200;
      origin.mode = 'slow';
    }
    const outageStarted = { at: Infinity };
    const outcome = await runScenario(rig, {
      rate: RATE, durationMs: 16_000, faultAtMs: FAULT_AT_MS, mqttEvery: 4,
      fault: async () => {
        await rig.mariadb.kill();
        outageStarted.at = Date.now();
        await new Promise((r) => setTimeout(r, 10_000));
        await rig.mariadb.start();
        for (const origin of rig.origins) origin.mode = 'ok';
      },
    });
    const { refused, retryAfter } = outcome.stream;
    // Writes during the outage were refused as "try again", never as a server error.
    expect(refused.get(503) ?? 0, JSON.stringify([...refused])).to.be.at.least(RATE);
    expect([...refused.keys()].filter((s) => s >= 500 && s !== 503), JSON.stringify([...refused])).to.deep.equal([]);
    expect(retryAfter.every((v) => /^\d+$/.test(v)), `Retry-After: ${[...new Set(retryAfter)]}`).to.equal(true);
    // The workers had jobs to do while the database was away (or this proved nothing).
    const failedOnDatabase = rig.services.get('push-worker')!.lines.filter(
      (l) => l.msg === 'push attempt failed' && Date.parse(String(l['time'])) >= outageStarted.at,
    );
    expect(failedOnDatabase.length, 'push attempts that failed during the outage').to.be.above(0);
    expectNothingLost(outcome, bounds);
    expectNoServiceRestarted();
  });
});
