import type { Aedes, Client, PublishPacket } from 'aedes';

type Publish = (packet: PublishPacket, client: Client | null, done?: (err?: Error | null) => void) => void;

/**
 * Makes a clustered aedes answer a client's QoS 1 PUBLISH with PUBACK only once the message is
 * published: kept in Redis for every persistent session subscribed to it, and sent on to the
 * other brokers. aedes 1.2 (`lib/handlers/publish.js`) writes the PUBACK first and publishes
 * after: a broker killed in between lost a message whose sender had been told it was taken.
 * This is what aedes already does for QoS 2 (stored before PUBREC).
 *
 * How: once `authorizePublish` allows a QoS 1 publish, this publishes it and only then lets
 * aedes go on; aedes' own `publish` call that follows the PUBACK is skipped for that packet.
 * PUBACKs still leave in the order their PUBLISHes came [MQTT-4.6.0-2]. A publish that fails
 * (Redis refused it) closes the connection without PUBACK, and the client sends it again.
 *
 * Only for the Redis persistence: in memory the sessions die with the broker anyway, and
 * waiting there would wait for the local subscribers' sockets (mqemitter's callback does).
 */
export function acknowledgeWhenStored(aedes: Aedes): void {
  const authorize = aedes.authorizePublish;
  const publish = (aedes.publish as unknown as Publish).bind(aedes);
  /** Packets published before their PUBACK: aedes' own publish of them is a repeat. */
  const published = new WeakSet<PublishPacket>();
  /** Per client, the PUBACK before the next one: it must leave first. */
  const lastAck = new WeakMap<Client, Promise<void>>();

  aedes.authorizePublish = (client, packet, done) =>
    authorize(client, packet, (refused) => {
      if (refused || packet.qos !== 1 || !client) return done(refused);
      const stored = new Promise<Error | undefined>((resolve) =>
        publish(packet, client, (err) => resolve(err ?? undefined)),
      );
      const turn = (lastAck.get(client) ?? Promise.resolve()).then(() => stored);
      lastAck.set(client, turn.then(() => undefined));
      void turn.then((err) => {
        if (err) return done(err);
        published.add(packet);
        done(null);
      });
    });

  (aedes as unknown as { publish: Publish }).publish = (packet, client, done) => {
    const callback = typeof client === 'function' ? (client as (err?: Error | null) => void) : done;
    if (published.delete(packet)) return callback?.(null);
    publish(packet, client, done);
  };
}
