import type { LookupAddress, LookupOptions } from 'node:dns';
import { expect } from 'chai';
import {
  createSafeLookup,
  UnsafeAddressError,
  type ResolveHost,
} from '../../services/push-worker/safe-lookup.js';

/** A resolver that answers `addresses` for any name and records what it was asked. */
function answering(addresses: string[]): ResolveHost & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (host: string) => {
    calls.push(host);
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { calls });
}

const refusingDns: ResolveHost = async (host) => {
  throw new Error(`DNS was not expected to be asked about ${host}`);
};

interface LookupResult {
  err: NodeJS.ErrnoException | null;
  address: string | LookupAddress[];
  family: number | undefined;
}

function lookUp(
  resolve: ResolveHost,
  hostname: string,
  options: LookupOptions,
  allowLoopback = false,
): Promise<LookupResult> {
  const lookup = createSafeLookup({ resolve, allowLoopback });
  return new Promise((done) => lookup(hostname, options, (err, address, family) => done({ err, address, family })));
}

describe('createSafeLookup', () => {
  it('hands back every checked address, in the resolver order, when asked for all', async () => {
    const result = await lookUp(answering(['2a00:1450:4001:82b::200a', '142.250.185.74']), 'fcm.googleapis.com', { all: true });

    expect(result.err).to.equal(null);
    expect(result.address).to.deep.equal([
      { address: '2a00:1450:4001:82b::200a', family: 6 },
      { address: '142.250.185.74', family: 4 },
    ]);
  });

  it('hands back the first checked address and its family when asked for one', async () => {
    const result = await lookUp(answering(['142.250.185.74', '2a00:1450:4001:82b::200a']), 'fcm.googleapis.com', {});

    expect(result).to.deep.equal({ err: null, address: '142.250.185.74', family: 4 });
  });

  it('keeps only the family the socket asked for, after checking every address', async () => {
    const result = await lookUp(answering(['2a00:1450:4001:82b::200a', '142.250.185.74']), 'fcm.googleapis.com', { family: 4 });
    const refused = await lookUp(answering(['10.0.0.1', '2a00:1450:4001:82b::200a']), 'fcm.googleapis.com', { family: 6 });

    expect(result.address).to.equal('142.250.185.74');
    expect(refused.err).to.be.instanceOf(UnsafeAddressError);
  });

  it('refuses with the host and the first address that is not public', async () => {
    const { err } = await lookUp(answering(['8.8.8.8', '169.254.169.254', '10.0.0.1']), 'push.test', { all: true });

    expect(err).to.be.instanceOf(UnsafeAddressError);
    expect(err).to.include({ code: 'ERR_UNSAFE_PUSH_ADDRESS', host: 'push.test', address: '169.254.169.254' });
  });

  it('refuses an answer that is not an IP address at all', async () => {
    const { err } = await lookUp(answering(['not-an-ip']), 'push.test', {});

    expect(err).to.be.instanceOf(UnsafeAddressError);
  });

  it('allows loopback only when told to, and nothing else that is private', async () => {
    const denied = await lookUp(answering(['127.0.0.1']), 'push.test', {}, false);
    const allowed = await lookUp(answering(['127.0.0.1', '::1']), 'push.test', { all: true }, true);
    const privateStill = await lookUp(answering(['127.0.0.1', '192.168.1.1']), 'push.test', {}, true);

    expect(denied.err).to.be.instanceOf(UnsafeAddressError);
    expect(allowed.err).to.equal(null);
    expect(privateStill.err).to.include({ address: '192.168.1.1' });
  });

  it('checks IP literals, bracketed or not, without asking DNS', async () => {
    const v4 = await lookUp(refusingDns, '10.1.2.3', {});
    const v6 = await lookUp(refusingDns, '[fe80::1]', { all: true });
    const publicOne = await lookUp(refusingDns, '8.8.8.8', { all: true });

    expect(v4.err).to.include({ address: '10.1.2.3' });
    expect(v6.err).to.include({ address: 'fe80::1' });
    expect(publicOne.address).to.deep.equal([{ address: '8.8.8.8', family: 4 }]);
  });

  it('answers ENOTFOUND for a name without addresses and passes resolver errors through', async () => {
    const empty = await lookUp(answering([]), 'push.test', {});
    const failing = await lookUp(refusingDns, 'push.test', {});

    expect(empty.err?.code).to.equal('ENOTFOUND');
    expect(failing.err?.message).to.contain('not expected');
    expect(failing.err).to.not.be.instanceOf(UnsafeAddressError);
  });

  it('asks the resolver again on every call: nothing is cached between connections', async () => {
    const dns = answering(['8.8.8.8']);
    const lookup = createSafeLookup({ resolve: dns, allowLoopback: false });
    const once = () => new Promise((done) => lookup('push.test', {}, done));

    await once();
    await once();

    expect(dns.calls).to.deep.equal(['push.test', 'push.test']);
  });
});
