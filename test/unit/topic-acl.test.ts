import { expect } from 'chai';
import { createTopicAcl, type Identity } from '../../services/broker/topic-acl.js';
import { createTopics } from '../../shared/topics/index.js';

function service(
  name: string,
  packages: string[] | '*',
  role: { admin?: boolean; router?: boolean } = {},
): Identity {
  const { admin = false, router = false } = role;
  return { kind: 'service', name, packages, admin, router };
}

const identities = {
  alice: { kind: 'user', user: 'alice', packages: ['crm'] },
  producer: service('crm-producer', ['crm']),
  crmAdmin: service('crm-admin', ['crm'], { admin: true }),
  admin: service('admin', '*', { admin: true }),
  router: service('notify-router', '*', { router: true }),
} satisfies Record<string, Identity>;

type Who = keyof typeof identities;
const everyone = Object.keys(identities) as Who[];

interface Row {
  topic: string;
  what: string;
  /** Who may subscribe, publish and receive; everyone else is refused. */
  subscribe: Who[];
  publish: Who[];
  receive: Who[];
}

const nobody = { subscribe: [], publish: [], receive: [] } satisfies Partial<Row>;
const pushAdmins: Who[] = ['crmAdmin', 'admin'];
const notifyIn = (publish: Who[]) => ({ subscribe: [], publish, receive: ['router'] as Who[] });
const ownNotify = notifyIn(['producer', 'crmAdmin', 'admin']);
const otherNotify = notifyIn(['admin']);

const table: Row[] = [
  { topic: 'axion/crm/push/alice', what: "alice's own push topic",
    subscribe: ['alice', ...pushAdmins], publish: ['router'], receive: ['alice', ...pushAdmins] },
  { topic: 'axion/crm/push/bob', what: "another user's push topic",
    subscribe: pushAdmins, publish: ['router'], receive: pushAdmins },
  { topic: 'axion/billing/push/alice', what: "alice's id in a package not in her token",
    subscribe: ['admin'], publish: ['router'], receive: ['admin'] },
  { topic: 'axion/crm/push/+', what: "a package's push wildcard",
    subscribe: pushAdmins, publish: [], receive: [] },
  { topic: 'axion/billing/push/+', what: "another package's push wildcard",
    subscribe: ['admin'], publish: [], receive: [] },
  { topic: 'axion/+/push/alice', what: 'a wildcard in the package level', ...nobody },
  { topic: 'axion/+/push/+', what: 'every push topic', ...nobody },
  { topic: 'axion/crm/push/#', what: 'a multi-level wildcard under push', ...nobody },
  { topic: 'axion/#', what: 'the whole root', ...nobody },
  { topic: '#', what: 'everything', ...nobody },
  { topic: '$SYS/#', what: "the broker's $SYS tree", ...nobody },
  { topic: 'axion/crm/push/alice/extra', what: 'a push topic with an extra level',
    ...nobody },
  { topic: 'axion/crm/push/', what: 'a push topic with an empty user', ...nobody },
  { topic: 'axion/crm/push/ali+ce', what: 'a user name holding +', ...nobody },
  { topic: 'axion/crm/push/alice#', what: 'a user name holding #', ...nobody },
  { topic: 'axion/c+rm/push/alice', what: 'a package name holding +', ...nobody },
  { topic: 'axion/c#rm/push/+', what: 'a package name holding #, with the admin wildcard',
    ...nobody },
  { topic: 'other/crm/push/alice', what: 'a push topic under another root', ...nobody },
  { topic: 'axion/crm/notify/user/bob', what: 'a notify topic for one user', ...ownNotify },
  { topic: 'axion/crm/notify/group/g', what: 'a notify topic for a group', ...ownNotify },
  { topic: 'axion/crm/notify/all', what: 'a notify topic for the whole package', ...ownNotify },
  { topic: 'axion/billing/notify/user/bob', what: "another package's notify topic",
    ...otherNotify },
  { topic: 'axion/billing/notify/all', what: "another package's notify-all topic", ...otherNotify },
  { topic: 'axion/+/notify/#', what: "the router's notify wildcard",
    subscribe: ['router'], publish: [], receive: [] },
  { topic: 'axion/crm/notify/#', what: "one package's notify wildcard", ...nobody },
  { topic: 'axion/crm/notify/user/bob/extra', what: 'a notify topic with an extra level',
    ...nobody },
  { topic: 'axion/crm/notify/all/extra', what: 'notify-all with an extra level', ...nobody },
  { topic: 'axion/crm/notify/user/b+b', what: 'a notify user name holding +', ...nobody },
  { topic: 'axion/crm/notify/group/g#', what: 'a notify group name holding #', ...nobody },
  { topic: 'axion/crm/notify/other/x', what: 'an unknown notify target', ...nobody },
];

describe('createTopicAcl', () => {
  const acl = createTopicAcl(createTopics('axion'));
  const checks = {
    subscribe: acl.canSubscribe,
    publish: acl.canPublish,
    receive: acl.canReceive,
  } as const;

  for (const row of table) {
    const summary = (['subscribe', 'publish', 'receive'] as const)
      .map((op) => `${op}: ${row[op].length > 0 ? row[op].join(', ') : 'nobody'}`)
      .join('; ');
    it(`${row.topic} (${row.what}) allows ${summary}`, () => {
      for (const op of ['subscribe', 'publish', 'receive'] as const) {
        for (const who of everyone) {
          const expected = row[op].includes(who);
          const actual = checks[op](identities[who], row.topic);
          expect(actual, `${who} ${op} ${row.topic}`).to.equal(expected);
        }
      }
    });
  }

  it('refuses a user every topic of a package when their token lists no packages', () => {
    const nobodyAtAll: Identity = { kind: 'user', user: 'alice', packages: [] };
    for (const topic of ['axion/crm/push/alice', 'axion/billing/push/alice']) {
      expect(acl.canSubscribe(nobodyAtAll, topic), topic).to.equal(false);
      expect(acl.canReceive(nobodyAtAll, topic), topic).to.equal(false);
    }
  });

  it('lets a producer of billing publish to billing but not to crm', () => {
    const billing = service('billing-producer', ['billing']);
    expect(acl.canPublish(billing, 'axion/billing/notify/all')).to.equal(true);
    expect(acl.canPublish(billing, 'axion/crm/notify/all')).to.equal(false);
    expect(acl.canPublish(billing, 'axion/crm/notify/user/bob')).to.equal(false);
  });

  it('uses the configured root, not axion', () => {
    const custom = createTopicAcl(createTopics('acme'));
    expect(custom.canSubscribe(identities.alice, 'acme/crm/push/alice')).to.equal(true);
    expect(custom.canSubscribe(identities.alice, 'axion/crm/push/alice')).to.equal(false);
    expect(custom.canSubscribe(identities.router, 'acme/+/notify/#')).to.equal(true);
    expect(custom.canSubscribe(identities.router, 'axion/+/notify/#')).to.equal(false);
  });
});
