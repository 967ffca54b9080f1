import type { Aedes, Client } from 'aedes';
import type { PresenceTracker } from '../../shared/presence/index.js';
import type { Topics } from '../../shared/topics/index.js';
import type { Identity } from './topic-acl.js';

/** A refused subscription is reported with this QoS (SUBACK 0x80). */
const REFUSED = 128;

/**
 * Keeps presence from the broker's own events: a user is online from the moment a session of
 * theirs is subscribed to their push topic until it unsubscribes or disconnects.
 */
export function trackPresence(
  aedes: Aedes,
  deps: { tracker: PresenceTracker; topics: Topics; identityOf: (client: Client) => Identity | undefined },
): void {
  const { tracker, topics } = deps;
  const ownPush = (identity: Identity | undefined, topic: string) => {
    if (identity?.kind !== 'user') return null;
    const push = topics.parsePush(topic);
    return push && push.user === identity.user ? push : null;
  };
  aedes.on('subscribe', (subscriptions, client) => {
    const identity = deps.identityOf(client);
    for (const { topic, qos } of subscriptions) {
      // aedes lists refused topics too, with QoS 128.
      const push = (qos as number) === REFUSED ? null : ownPush(identity, topic);
      if (push) tracker.join(push.package, push.user, client.id);
    }
  });
  aedes.on('unsubscribe', (unsubscriptions, client) => {
    const identity = deps.identityOf(client);
    for (const topic of unsubscriptions) {
      const push = ownPush(identity, topic);
      if (push) tracker.leave(push.package, push.user, client.id);
    }
  });
  aedes.on('clientDisconnect', (client) => tracker.leaveClient(client.id));
}
