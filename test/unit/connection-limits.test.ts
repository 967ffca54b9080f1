import { expect } from 'chai';
import { clientAddress, createConnectionLimits } from '../../services/broker/connection-limits.js';
import { createPacketSizeCheck } from '../../services/broker/packet-size-limit.js';

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

describe('createPacketSizeCheck', () => {
  const limits = { maxConnectBytes: 100, maxPacketBytes: 1_000 };
  /** A fixed header (MQTT 3.1.1 §2.2): type byte and the remaining length as a variable byte integer. */
  const header = (type: number, length: number) => {
    const bytes = [type << 4];
    do {
      let byte = length % 128;
      length = Math.floor(length / 128);
      if (length > 0) byte |= 0x80;
      bytes.push(byte);
    } while (length > 0);
    return Buffer.from(bytes);
  };
  const packet = (type: number, length: number) => Buffer.concat([header(type, length), Buffer.alloc(length)]);

  it('passes packets within the limits, however the stream is cut into chunks', () => {
    const stream = Buffer.concat([packet(1, 100), packet(3, 1_000), packet(12, 0), packet(3, 200)]);
    for (const size of [1, 2, 7, stream.length]) {
      const check = createPacketSizeCheck(limits);
      for (let at = 0; at < stream.length; at += size) {
        expect(check(stream.subarray(at, at + size)), `chunks of ${size}`).to.equal(undefined);
      }
    }
  });

  it('refuses a CONNECT over its own limit from the header alone, before the body', () => {
    expect(createPacketSizeCheck(limits)(header(1, 101))).to.equal('CONNECT over 100 bytes');
  });

  it('refuses a later packet over the packet limit from a header split across chunks', () => {
    const check = createPacketSizeCheck(limits);
    expect(check(packet(1, 10))).to.equal(undefined);
    const big = header(3, 2_000_000);
    expect(check(big.subarray(0, 2))).to.equal(undefined);
    expect(check(big.subarray(2))).to.equal('packet over 1000 bytes');
  });

  it('refuses a first packet that is not CONNECT [MQTT-3.1.0-1]', () => {
    expect(createPacketSizeCheck(limits)(header(3, 10))).to.equal('the first packet is not CONNECT');
  });

  it('refuses a remaining length of more than four bytes', () => {
    const check = createPacketSizeCheck({ maxConnectBytes: 100, maxPacketBytes: Number.MAX_SAFE_INTEGER });
    check(packet(1, 0));
    expect(check(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80]))).to.equal('malformed remaining length');
  });
});

describe('clientAddress', () => {
  const proxies = new Set(['10.0.0.5', '10.0.0.6']);

  it('is the peer when the peer is not a trusted proxy, whatever X-Forwarded-For says', () => {
    expect(clientAddress('198.51.100.7', '203.0.113.1', proxies)).to.equal('198.51.100.7');
    expect(clientAddress('::ffff:198.51.100.7', undefined, proxies)).to.equal('198.51.100.7');
  });

  it('is the nearest forwarded address that is not a trusted proxy, behind trusted proxies', () => {
    expect(clientAddress('::ffff:10.0.0.5', '203.0.113.1', proxies)).to.equal('203.0.113.1');
    // The client wrote the left-most entry itself: only the hops the proxies added count.
    expect(clientAddress('10.0.0.5', '1.2.3.4, 203.0.113.1, 10.0.0.6', proxies)).to.equal('203.0.113.1');
  });

  it('is the proxy itself when it forwards no address', () => {
    expect(clientAddress('10.0.0.5', undefined, proxies)).to.equal('10.0.0.5');
  });
});
