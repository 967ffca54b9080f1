/**
 * Per-address limits on MQTT connections, applied when a socket opens (before any MQTT is
 * read), so a single address cannot exhaust the broker with connections or connect storms.
 */
export interface ConnectionLimits {
  /** Counts a new connection from `address`; false when it must be refused. */
  admit(address: string): boolean;
  /** The connection from `address` closed. */
  release(address: string): void;
}

export function createConnectionLimits(options: {
  maxPerAddress: number;
  connectsPerMinute: number;
  now?: () => number;
}): ConnectionLimits {
  const now = options.now ?? Date.now;
  const open = new Map<string, number>();
  /** Connection attempts in the current minute-long window, per address. */
  const recent = new Map<string, { windowStart: number; count: number }>();

  return {
    admit(address) {
      const at = now();
      const window = recent.get(address);
      if (!window || at - window.windowStart >= 60_000) {
        recent.set(address, { windowStart: at, count: 1 });
        // Forget addresses whose window has passed, so the map stays as small as the traffic.
        if (recent.size > 10_000) {
          for (const [a, w] of recent) if (at - w.windowStart >= 60_000) recent.delete(a);
        }
      } else if (++window.count > options.connectsPerMinute) {
        return false;
      }
      const current = open.get(address) ?? 0;
      if (current >= options.maxPerAddress) return false;
      open.set(address, current + 1);
      return true;
    },
    release(address) {
      const current = open.get(address) ?? 0;
      if (current <= 1) open.delete(address);
      else open.set(address, current - 1);
    },
  };
}

/** `::ffff:10.0.0.1` and `10.0.0.1` are one IPv4 client. */
const plainAddress = (address: string) => address.trim().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');

/**
 * The address a connection counts against: its peer, or, when the peer is a trusted reverse
 * proxy, the right-most `X-Forwarded-For` entry that is not a trusted proxy (the left-most
 * entries are whatever the client chose to send, so they are never believed).
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | undefined,
  trustedProxies: ReadonlySet<string>,
): string {
  let address = plainAddress(peer ?? 'unknown');
  if (!trustedProxies.has(address) || !forwardedFor) return address;
  const hops = forwardedFor.split(',').map(plainAddress).filter(Boolean);
  while (trustedProxies.has(address) && hops.length > 0) address = hops.pop()!;
  return address;
}
