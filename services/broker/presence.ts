import type { Aedes, Client } from 'aedes';
import type { PresenceTracker } from '../../shared/presence/index.js';
import type { Topics } from '../../shared/topics/index.js';
import type { Identity } from './topic-acl.js';

/** aedes keeps a client's subscriptions, restored ones included, on the client (untyped). */
type RestoredClient = Client & { subscriptions: Record<string, unknown> };

/** A refused subscription is reported with this QoS (SUBACK 0x80). */
const REFUSED = 128;

/**
 * Keeps presence from the broker's own events: a user is online from the moment a session of
 * theirs is subscribed to their push topic, by a SUBSCRIBE or by a persistent session that aedes
 * restores at CONNECT, until it unsubscribes or disconnects.
 */
export function trackPresence(
  aedes: Aedes,
  deps: { tracker: PresenceTracker; topics: Topics; identityOf: (client: Client) => Identity | undefined },
): void {
  const { tracker, topics } = deps;
  // Entries are per connection, not per client id: when a session is taken over, the old
  // connection's disconnect may come after the new one subscribed, and must not end it.
  const connections = new WeakMap<Client, string>();
  let opened = 0;
  const connectionOf = (client: Client) => {
    let key = connections.get(client);
    if (!key) connections.set(client, (key = `${client.id}#${++opened}`));
    return key;
  };
  const ownPush = (identity: Identity | undefined, topic: string) => {
    if (identity?.kind !== 'user') return null;
    const push = topics.parsePush(topic);
    return push && push.user === identity.user ? push : null;
  };
  const join = (client: Client, filters: readonly string[]) => {
    const identity = deps.identityOf(client);
    for (const topic of filters) {
      const push = ownPush(identity, topic);
      if (push) tracker.join(push.package, push.user, connectionOf(client));
    }
  };
  aedes.on('subscribe', (subscriptions, client) => {
    // aedes lists refused topics too, with QoS 128.
    join(client, subscriptions.filter(({ qos }) => (qos as number) !== REFUSED).map(({ topic }) => topic));
  });
  // A persistent session's subscriptions come back without a SUBSCRIBE (and without a
  // 'subscribe' event); aedes re-checks each with authorizeSubscribe and keeps the allowed ones.
  aedes.on('clientReady', (client) => join(client, Object.keys((client as RestoredClient).subscriptions)));
  aedes.on('unsubscribe', (unsubscriptions, client) => {
    const identity = deps.identityOf(client);
    for (const topic of unsubscriptions) {
      const push = ownPush(identity, topic);
      if (push) tracker.leave(push.package, push.user, connectionOf(client));
    }
  });
  aedes.on('clientDisconnect', (client) => tracker.leaveClient(connectionOf(client)));
}
