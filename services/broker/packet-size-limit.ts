import type { Readable } from 'node:stream';

export interface PacketSizeLimits {
  /** Largest remaining length of the first packet, the CONNECT read before authentication. */
  maxConnectBytes: number;
  /** Largest remaining length of any later packet. */
  maxPacketBytes: number;
}

/** MQTT 3.1.1 §2.2.1: control packet type 1 is CONNECT. */
const CONNECT = 1;

/**
 * Follows the packet boundaries of an MQTT byte stream from the fixed headers alone (MQTT 3.1.1
 * §2.2: a type byte, then the remaining length in 1-4 bytes) and returns why the stream must be
 * closed as soon as a header declares too large a packet, before its body arrives. mqtt-packet
 * (and so aedes 1.2) has no packet size limit: it would buffer up to 256 MB of one packet.
 */
export function createPacketSizeCheck(limits: PacketSizeLimits): (chunk: Buffer) => string | undefined {
  let first = true;
  let state: 'type' | 'length' | 'body' = 'type';
  let length = 0;
  let multiplier = 1;
  let bodyLeft = 0;

  return (chunk) => {
    let at = 0;
    while (at < chunk.length) {
      if (state === 'body') {
        const taken = Math.min(bodyLeft, chunk.length - at);
        bodyLeft -= taken;
        at += taken;
        if (bodyLeft === 0) state = 'type';
      } else if (state === 'type') {
        // [MQTT-3.1.0-1]: the first packet from a client must be CONNECT.
        if (first && chunk[at]! >> 4 !== CONNECT) return 'the first packet is not CONNECT';
        at += 1;
        state = 'length';
        length = 0;
        multiplier = 1;
      } else {
        const byte = chunk[at++]!;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        const limit = first ? limits.maxConnectBytes : limits.maxPacketBytes;
        if (length > limit) return `${first ? 'CONNECT' : 'packet'} over ${limit} bytes`;
        if (byte & 0x80) {
          // §2.2.3: at most four bytes; mqtt-packet refuses a fifth itself, but only later.
          if (multiplier > 128 ** 3) return 'malformed remaining length';
          continue;
        }
        first = false;
        bodyLeft = length;
        state = bodyLeft === 0 ? 'type' : 'body';
      }
    }
    return undefined;
  };
}

/**
 * Checks what aedes reads from a connection and destroys the connection at the header of a
 * packet that is too large, so the rest of it is never read. Every `read()` emits 'data', also
 * in the paused mode aedes reads in, so this sees each chunk as aedes takes it: the write path
 * and aedes' own flow control stay untouched. Attach after `aedes.handle(connection)`.
 */
export function limitPacketSize(
  connection: Readable,
  limits: PacketSizeLimits,
  onRefused: (reason: string) => void,
): void {
  const check = createPacketSizeCheck(limits);
  connection.on('data', (chunk: Buffer) => {
    const refused = check(chunk);
    if (refused === undefined) return;
    onRefused(refused);
    connection.destroy(new Error(refused));
  });
}
