import { expect } from 'chai';
import { createConnectionLimits } from '../../services/broker/connection-limits.js';

describe('createConnectionLimits', () => {
  it('refuses connections beyond the number open per address, and admits again after one closes', () => {
    const limits = createConnectionLimits({ maxPerAddress: 2, connectsPerMinute: 100, now: () => 0 });

    expect([limits.admit('10.0.0.1'), limits.admit('10.0.0.1'), limits.admit('10.0.0.1')]).to.deep.equal([true, true, false]);
    expect(limits.admit('10.0.0.2')).to.equal(true);
    limits.release('10.0.0.1');
    expect(limits.admit('10.0.0.1')).to.equal(true);
  });

  it('refuses a connect storm from one address until the minute has passed', () => {
    let now = 0;
    const limits = createConnectionLimits({ maxPerAddress: 100, connectsPerMinute: 3, now: () => now });
    for (let i = 0; i < 3; i++) {
      expect(limits.admit('10.0.0.1')).to.equal(true);
      limits.release('10.0.0.1');
    }

    expect(limits.admit('10.0.0.1')).to.equal(false);
    expect(limits.admit('10.0.0.9')).to.equal(true);
    now = 60_000;
    expect(limits.admit('10.0.0.1')).to.equal(true);
  });
});
