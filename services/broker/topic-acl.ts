import type { ServiceCaller, UserCaller } from '../../shared/auth/index.js';
import { isValidName, type Topics } from '../../shared/topics/index.js';

/** Who an MQTT session belongs to, decided once at CONNECT. */
export type Identity = UserCaller | ServiceCaller;

const inScope = (identity: Identity, pkg: string) =>
  identity.packages === '*' || identity.packages.includes(pkg);

/**
 * The broker's topic ACL, as pure functions of the session's identity and the topic. Names are
 * validated by the topic parser, so no wildcard or extra level can widen what a rule allows.
 */
export function createTopicAcl(topics: Topics) {
  return {
    /** A user: their own push topic in their packages. An admin: a package's `push/+`. The router: the notify wildcard. */
    canSubscribe(identity: Identity, topic: string): boolean {
      if (identity.kind === 'user') {
        const push = topics.parsePush(topic);
        return push !== null && push.user === identity.user && inScope(identity, push.package);
      }
      if (identity.router) return topic === topics.notifyWildcard;
      if (!identity.admin) return false;
      // `+` is the one wildcard an admin may use, and only in the user level.
      const levels = topic.split('/');
      const pkg = levels[1] ?? '';
      const packageWide = levels.length === 4 && levels[0] === topics.root && levels[2] === 'push' && levels[3] === '+';
      if (packageWide) return isValidName(pkg) && inScope(identity, pkg);
      const push = topics.parsePush(topic);
      return push !== null && inScope(identity, push.package);
    },

    /** Only the router publishes to push topics; producers publish to their packages' notify topics. */
    canPublish(identity: Identity, topic: string): boolean {
      if (identity.kind === 'user') return false;
      if (identity.router) return topics.parsePush(topic) !== null;
      const notify = topics.parseNotify(topic);
      return notify !== null && inScope(identity, notify.package);
    },

    /** A second check as each message is delivered, in case a subscription slipped through. */
    canReceive(identity: Identity, topic: string): boolean {
      if (identity.kind === 'user') {
        const push = topics.parsePush(topic);
        return push !== null && push.user === identity.user && inScope(identity, push.package);
      }
      if (identity.router) return topics.parseNotify(topic) !== null;
      const push = topics.parsePush(topic);
      return identity.admin && push !== null && inScope(identity, push.package);
    },
  };
}

export type TopicAcl = ReturnType<typeof createTopicAcl>;
