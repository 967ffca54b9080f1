import { BlockList, isIP } from 'node:net';

/**
 * Addresses a push must never be sent to: everything the IANA special-purpose registries
 * (RFC 6890) mark as not globally reachable, plus multicast and the documentation ranges.
 */
const notPublicV4 = new BlockList();
const notPublicV6 = new BlockList();

const V4_RANGES: Array<[string, number]> = [
  ['0.0.0.0', 8], // "this network" (RFC 1122 §3.2.1.3), incl. 0.0.0.0 unspecified
  ['10.0.0.0', 8], // private (RFC 1918)
  ['100.64.0.0', 10], // shared address space, carrier-grade NAT (RFC 6598)
  ['127.0.0.0', 8], // loopback (RFC 1122 §3.2.1.3)
  ['169.254.0.0', 16], // link-local, incl. cloud metadata 169.254.169.254 (RFC 3927)
  ['172.16.0.0', 12], // private (RFC 1918)
  ['192.0.0.0', 24], // IETF protocol assignments (RFC 6890 §2.2.2)
  ['192.0.2.0', 24], // TEST-NET-1 documentation (RFC 5737)
  ['192.88.99.0', 24], // 6to4 relay anycast, deprecated (RFC 3068, RFC 7526)
  ['192.168.0.0', 16], // private (RFC 1918)
  ['198.18.0.0', 15], // benchmarking (RFC 2544)
  ['198.51.100.0', 24], // TEST-NET-2 documentation (RFC 5737)
  ['203.0.113.0', 24], // TEST-NET-3 documentation (RFC 5737)
  ['224.0.0.0', 4], // multicast (RFC 5771)
  ['240.0.0.0', 4], // reserved for future use (RFC 1112 §4)
  ['255.255.255.255', 32], // limited broadcast (RFC 919, RFC 8190)
];

/** The IPv6 ranges that embed an IPv4 address are not here: that address is checked instead. */
const V6_RANGES: Array<[string, number]> = [
  ['::', 128], // unspecified (RFC 4291 §2.5.2)
  ['::1', 128], // loopback (RFC 4291 §2.5.3)
  ['::', 96], // IPv4-compatible, deprecated and never routed (RFC 4291 §2.5.5.1)
  ['64:ff9b:1::', 48], // local-use NAT64 (RFC 8215)
  ['100::', 64], // discard-only (RFC 6666)
  ['2001:db8::', 32], // documentation (RFC 3849)
  ['fc00::', 7], // unique local (RFC 4193)
  ['fe80::', 10], // link-local unicast (RFC 4291 §2.5.6)
  ['fec0::', 10], // site-local, deprecated (RFC 3879)
  ['ff00::', 8], // multicast (RFC 4291 §2.7)
];

for (const [network, prefix] of V4_RANGES) notPublicV4.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of V6_RANGES) notPublicV6.addSubnet(network, prefix, 'ipv6');

/**
 * True when `ip` is a public unicast address a push service may live on; false for every
 * loopback, private, link-local, CGNAT, unspecified, multicast, reserved or documentation
 * address, and for anything that is not an IP address. IPv6 forms that carry an IPv4 address
 * (IPv4-mapped, NAT64, 6to4) are judged by that IPv4 address. An IPv6 address with a zone
 * (`fe80::1%eth0`) is refused: a zone only means something for non-global scopes.
 */
export function isPublicAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return !notPublicV4.check(ip, 'ipv4');
  if (family !== 6 || ip.includes('%')) return false;
  const embedded = embeddedIPv4(ip);
  if (embedded !== null) return !notPublicV4.check(embedded, 'ipv4');
  return !notPublicV6.check(ip, 'ipv6');
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped 127.0.0.0/8: the only ones a test may allow. */
export function isLoopbackAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return ip.startsWith('127.');
  if (family !== 6 || ip.includes('%')) return false;
  const words = ipv6Words(ip);
  if (words.every((w, i) => w === (i === 7 ? 1 : 0))) return true;
  const mapped = isMapped(words) ? wordsToIPv4(words[6]!, words[7]!) : null;
  return mapped !== null && mapped.startsWith('127.');
}

/** The IPv4 address inside an IPv4-mapped, NAT64 or 6to4 address, or null. */
function embeddedIPv4(ip: string): string | null {
  const w = ipv6Words(ip);
  // ::ffff:0:0/96, IPv4-mapped (RFC 4291 §2.5.5.2)
  if (isMapped(w)) return wordsToIPv4(w[6]!, w[7]!);
  // 64:ff9b::/96, well-known NAT64 prefix (RFC 6052 §2.1)
  if (w[0] === 0x64 && w[1] === 0xff9b && w.slice(2, 6).every((x) => x === 0)) {
    return wordsToIPv4(w[6]!, w[7]!);
  }
  // 2002::/16, 6to4: the IPv4 address is the next 32 bits (RFC 3056 §2)
  if (w[0] === 0x2002) return wordsToIPv4(w[1]!, w[2]!);
  return null;
}

function isMapped(w: number[]): boolean {
  return w.slice(0, 5).every((x) => x === 0) && w[5] === 0xffff;
}

function wordsToIPv4(high: number, low: number): string {
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

/** The eight 16-bit words of an address `isIP` already accepted as IPv6 (no zone). */
function ipv6Words(ip: string): number[] {
  let text = ip;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    // A dotted IPv4 tail (::ffff:127.0.0.1) stands for the last two words.
    const [a, b, c, d] = tail.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  const front = parse(head);
  if (rest === undefined) return front;
  const back = parse(rest);
  return [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}
