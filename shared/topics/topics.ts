import { isValidName } from './names.js';

/** What an inbound `notify` topic addresses. */
export type NotifyTarget =
  | { kind: 'user'; user: string }
  | { kind: 'group'; group: string }
  | { kind: 'all' };

export interface ParsedNotifyTopic {
  package: string;
  target: NotifyTarget;
}

/** Builds and parses every topic under one root (`MQTT_TOPIC_ROOT`). */
export interface Topics {
  readonly root: string;
  /** `<root>/<pkg>/push/<user>`: where the router publishes a user's Messages. */
  push(pkg: string, user: string): string;
  /** `<root>/<pkg>/notify/user/<user>`: where a producer sends an Event for one user. */
  notifyUser(pkg: string, user: string): string;
  notifyGroup(pkg: string, group: string): string;
  notifyAll(pkg: string): string;
  /** The subscription the router holds to receive every producer's events. */
  readonly notifyWildcard: string;
  /** The MQTT client id every router shares (one persistent session, see intake-leadership). */
  readonly routerClientId: string;
  /** Parses an inbound notify topic; `null` for anything malformed or outside the root. */
  parseNotify(topic: string): ParsedNotifyTopic | null;
  /** Parses a push topic into its package and user; `null` when it is not one. */
  parsePush(topic: string): { package: string; user: string } | null;
}

const ROOT_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** True when `root` can serve as the first topic level. */
export function isValidTopicRoot(root: string): boolean {
  return ROOT_PATTERN.test(root);
}

function name(kind: string, value: string): string {
  if (!isValidName(value)) {
    throw new TypeError(`invalid ${kind} name: must be 1-128 characters of [A-Za-z0-9._@-]`);
  }
  return value;
}

/** Creates the topic builder for `root` (validated: one level, no wildcards). */
export function createTopics(root = 'axion'): Topics {
  if (!isValidTopicRoot(root)) {
    throw new TypeError('invalid topic root: must be 1-64 characters of [A-Za-z0-9._-]');
  }
  return {
    root,
    push: (pkg, user) => `${root}/${name('package', pkg)}/push/${name('user', user)}`,
    notifyUser: (pkg, user) => `${root}/${name('package', pkg)}/notify/user/${name('user', user)}`,
    notifyGroup: (pkg, group) =>
      `${root}/${name('package', pkg)}/notify/group/${name('group', group)}`,
    notifyAll: (pkg) => `${root}/${name('package', pkg)}/notify/all`,
    notifyWildcard: `${root}/+/notify/#`,
    routerClientId: `${root}-notify-router`,
    parseNotify(topic) {
      const levels = topic.split('/');
      if (levels[0] !== root || levels[2] !== 'notify') return null;
      const pkg = levels[1];
      if (!isValidName(pkg)) return null;
      const [kind, id] = levels.slice(3);
      if (levels.length === 4 && kind === 'all') return { package: pkg, target: { kind: 'all' } };
      if (levels.length !== 5 || !isValidName(id)) return null;
      if (kind === 'user') return { package: pkg, target: { kind: 'user', user: id } };
      if (kind === 'group') return { package: pkg, target: { kind: 'group', group: id } };
      return null;
    },
    parsePush(topic) {
      const levels = topic.split('/');
      if (levels.length !== 4 || levels[0] !== root || levels[2] !== 'push') return null;
      const [, pkg, , user] = levels;
      return isValidName(pkg) && isValidName(user) ? { package: pkg, user } : null;
    },
  };
}
