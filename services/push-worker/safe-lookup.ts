import { promises as dns, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { isLoopbackAddress, isPublicAddress } from '../../shared/push-endpoints/index.js';

/** Every address a host name resolves to, as `dns.promises.lookup(host, { all: true })`. */
export type ResolveHost = (host: string) => Promise<{ address: string; family: number }[]>;

/** A push endpoint's host resolved to an address we must not connect to. */
export class UnsafeAddressError extends Error {
  readonly code = 'ERR_UNSAFE_PUSH_ADDRESS';

  constructor(
    readonly host: string,
    readonly address: string,
  ) {
    super(`refused to connect to ${host}: ${address} is not a public address`);
    this.name = 'UnsafeAddressError';
  }
}

const resolveWithSystem: ResolveHost = (host) => dns.lookup(host, { all: true, verbatim: true });

/**
 * A `lookup` for undici's `connect` option that resolves every address of a host and refuses
 * the connection when any of them is not public (loopback too, unless `allowLoopback`: tests
 * and the demo only). It hands the socket only the addresses it checked, so the connection
 * goes to a checked address and no second resolution can rebind the name in between.
 *
 * The check runs once per new connection: a kept-alive connection stays on the address that
 * was checked when it was opened.
 */
export function createSafeLookup(options: {
  resolve?: ResolveHost;
  allowLoopback: boolean;
}): LookupFunction {
  const resolve = options.resolve ?? resolveWithSystem;
  const allowed = (ip: string) =>
    isPublicAddress(ip) || (options.allowLoopback && isLoopbackAddress(ip));

  async function checkedAddresses(hostname: string): Promise<LookupAddress[]> {
    const literal = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
    const family = isIP(literal);
    const answers = family ? [{ address: literal, family }] : await resolve(hostname);
    if (answers.length === 0) throw notFound(hostname);
    // All of them, not just the first: the socket may fall back to any address we return.
    const bad = answers.find((a) => !allowed(a.address));
    if (bad) throw new UnsafeAddressError(hostname, bad.address);
    return answers.map((a) => ({ address: a.address, family: isIP(a.address) }));
  }

  return (hostname, lookupOptions, callback) => {
    const wanted = familyNumber(lookupOptions.family);
    checkedAddresses(hostname)
      .then((checked) => checked.filter((a) => wanted === 0 || a.family === wanted))
      .then(
        (addresses) => {
          const first = addresses[0];
          if (!first) callback(notFound(hostname), lookupOptions.all ? [] : '');
          else if (lookupOptions.all) callback(null, addresses);
          else callback(null, first.address, first.family);
        },
        (err: NodeJS.ErrnoException) => callback(err, lookupOptions.all ? [] : ''),
      );
  };
}

function familyNumber(family: number | string | undefined): number {
  if (family === 'IPv4' || family === 4) return 4;
  if (family === 'IPv6' || family === 6) return 6;
  return 0;
}

function notFound(hostname: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
    code: 'ENOTFOUND',
    hostname,
  });
}
