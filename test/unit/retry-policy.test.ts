import { expect } from 'chai';
import { createOriginGate } from '../../services/push-worker/origin-gate.js';
import { attemptDelay, parseRetryAfter, RetryLaterError, retryDelay } from '../../services/push-worker/retry-policy.js';

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-23T10:00:00.000Z');

  it('reads delay-seconds', () => {
    expect(parseRetryAfter('120', now)).to.equal(120_000);
  });

  it('reads an HTTP-date as the time left until then', () => {
    expect(parseRetryAfter('Mon, 23 Nov 2026 10:00:30 GMT', now)).to.equal(30_000);
  });

  it('treats an HTTP-date in the past as "now"', () => {
    expect(parseRetryAfter('Mon, 23 Nov 2026 09:00:00 GMT', now)).to.equal(0);
  });

  it('ignores what it cannot read', () => {
    for (const value of [undefined, '', 'soon', '-5', '1.5']) expect(parseRetryAfter(value, now), String(value)).to.equal(null);
  });
});

describe('retryDelay', () => {
  it('doubles the window with each attempt, with half of it random', () => {
    expect(retryDelay({ attemptsMade: 1, retryAfterMs: null, random: () => 0 })).to.equal(500);
    expect(retryDelay({ attemptsMade: 1, retryAfterMs: null, random: () => 0.999 })).to.be.closeTo(1_000, 1);
    expect(retryDelay({ attemptsMade: 3, retryAfterMs: null, random: () => 0 })).to.equal(2_000);
  });

  it('never comes back sooner than Retry-After', () => {
    expect(retryDelay({ attemptsMade: 1, retryAfterMs: 30_000, random: () => 0.5 })).to.equal(30_000);
  });

  it('stops growing at the cap', () => {
    expect(retryDelay({ attemptsMade: 40, retryAfterMs: null, capMs: 60_000, random: () => 0.999 })).to.be.at.most(60_000);
  });
});

describe('attemptDelay', () => {
  it('waits as long as the attempt asked when it left endpoints to retry', () => {
    expect(attemptDelay(3, new RetryLaterError(7_000, 2))).to.equal(7_000);
  });

  it('backs off exponentially after an attempt the database or Redis failed, so 8 attempts outlast a minute', () => {
    const down = new Error('connect ECONNREFUSED 127.0.0.1:3306');
    const delays = [1, 2, 3, 4, 5, 6, 7].map((attempts) => attemptDelay(attempts, down, () => 0));
    expect(delays).to.deep.equal([500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000]);
    expect(delays.reduce((a, b) => a + b)).to.be.above(60_000);
  });
});

describe('createOriginGate', () => {
  it('holds back only the origin that was paused, until the pause is over', () => {
    let now = 0;
    const gate = createOriginGate(() => now);
    gate.pause('https://fcm.googleapis.com', 3_000);

    expect(gate.waitFor('https://fcm.googleapis.com')).to.equal(3_000);
    expect(gate.waitFor('https://updates.push.services.mozilla.com')).to.equal(0);
    now = 3_000;
    expect(gate.waitFor('https://fcm.googleapis.com')).to.equal(0);
  });

  it('after a send got no answer, holds the origin back, then lets one probe through while the others wait for its answer', () => {
    let now = 0;
    const gate = createOriginGate(() => now);
    gate.suspect('https://a.example');
    expect(gate.waitFor('https://a.example')).to.equal(2_000);

    now = 2_000;
    expect(gate.waitFor('https://a.example'), 'the probe').to.equal(0);
    expect(gate.waitFor('https://a.example'), 'the next send').to.be.above(0);
    gate.answered('https://a.example');
    expect(gate.waitFor('https://a.example'), 'answered: open again').to.equal(0);
    expect(gate.waitFor('https://a.example')).to.equal(0);
  });

  it('holds the origin back again when the probe gets no answer either', () => {
    let now = 0;
    const gate = createOriginGate(() => now);
    gate.suspect('https://a.example');
    now = 2_000;
    expect(gate.waitFor('https://a.example')).to.equal(0);
    gate.suspect('https://a.example');
    expect(gate.waitFor('https://a.example')).to.equal(2_000);
  });

  it('keeps a longer pause the service asked for when a send then gets no answer', () => {
    const gate = createOriginGate(() => 0);
    gate.pause('https://a.example', 600_000);
    gate.suspect('https://a.example');
    expect(gate.waitFor('https://a.example')).to.equal(600_000);
  });

  it('tells how long an origin is held without taking its probe', () => {
    let now = 0;
    const gate = createOriginGate(() => now);
    gate.suspect('https://a.example');
    expect(gate.heldFor('https://a.example')).to.equal(2_000);
    now = 2_000;
    expect(gate.heldFor('https://a.example'), 'the probe is free').to.equal(0);
    expect(gate.heldFor('https://a.example'), 'and stays free').to.equal(0);
    expect(gate.waitFor('https://a.example'), 'taken by the send that asks waitFor').to.equal(0);
    expect(gate.heldFor('https://a.example')).to.be.above(0);
  });

  it('keeps the longer of two pauses', () => {
    const gate = createOriginGate(() => 0);
    gate.pause('https://a.example', 5_000);
    gate.pause('https://a.example', 1_000);
    expect(gate.waitFor('https://a.example')).to.equal(5_000);
  });
});
