import type { IPublishPacket, MqttClient } from 'mqtt';

/** A QoS 1 message taken in: its PUBACK goes out once `settle` is called. */
export interface HeldAck {
  settle(): void;
}

export interface DeferredAcks {
  /**
   * Holds the PUBACK of `packet`. Call from `handleMessage` before calling its callback: the
   * callback then lets the client read the next packet at once, and the PUBACK waits.
   */
  hold(packet: IPublishPacket): HeldAck;
  /** Changes whenever the connection closes: what was held for the old one is dropped. */
  readonly connection: number;
}

interface PubackPacket {
  cmd: string;
  messageId?: number;
}
type SendPacket = (packet: PubackPacket, cb?: (err?: Error) => void, ...rest: unknown[]) => void;

interface Entry {
  epoch: number;
  settled: boolean;
  puback: PubackPacket | null;
}

const NO_ACK: HeldAck = { settle() {} };

/**
 * Lets the intake acknowledge QoS 1 messages after it has stored them, without reading one
 * message at a time. mqtt.js reads the next packet only once `handleMessage` has called back,
 * and sends the PUBACK from that callback; storing before calling back would allow one event
 * per database round trip. Here the callback is called at once and its PUBACK is held until
 * the message is settled. PUBACKs leave in the order the messages came in [MQTT-4.6.0-2], so a
 * slow message holds back the ones behind it. After a disconnect, held PUBACKs are dropped:
 * the packet ids belong to the old connection, and the broker sends those messages again.
 *
 * This replaces mqtt.js's private `_sendPacket` on this one client: the mqtt version is pinned
 * by the lockfile, the start fails loudly if the method is missing, and the intake tests
 * (test/integration/mqtt-intake.test.ts) fail if held PUBACKs stop being held.
 */
export function deferAcks(client: MqttClient): DeferredAcks {
  const target = client as unknown as { _sendPacket?: SendPacket };
  if (typeof target._sendPacket !== 'function') {
    throw new Error('this mqtt package has no _sendPacket: the MQTT intake cannot hold its PUBACKs');
  }
  const send: SendPacket = target._sendPacket.bind(client);
  let epoch = 0;
  const queue: Entry[] = [];
  const capturing = new Map<number, Entry>();

  client.on('close', () => {
    epoch += 1;
    queue.length = 0;
    capturing.clear();
  });

  target._sendPacket = (packet, cb, ...rest) => {
    const entry = packet.cmd === 'puback' && packet.messageId !== undefined ? capturing.get(packet.messageId) : undefined;
    if (!entry) return send(packet, cb, ...rest);
    capturing.delete(packet.messageId!);
    entry.puback = packet;
    cb?.();
    flush();
  };

  function flush(): void {
    while (queue.length > 0 && queue[0]!.settled && queue[0]!.puback) {
      const { puback } = queue.shift()!;
      send(puback!);
    }
  }

  return {
    hold(packet) {
      if (packet.qos !== 1 || packet.messageId === undefined) return NO_ACK;
      const entry: Entry = { epoch, settled: false, puback: null };
      capturing.set(packet.messageId, entry);
      queue.push(entry);
      return {
        settle() {
          if (entry.epoch !== epoch) return;
          entry.settled = true;
          flush();
        },
      };
    },
    get connection() {
      return epoch;
    },
  };
}
