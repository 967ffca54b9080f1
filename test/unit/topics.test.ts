import { expect } from 'chai';
import { createTopics, isValidName, pushJobId, routeJobId } from '../../shared/topics/index.js';

describe('isValidName', () => {
  it('accepts 1-128 characters of [A-Za-z0-9._@-]', () => {
    for (const name of ['a', 'crm', 'alice@example.com', 'user_1.2-3', 'x'.repeat(128)]) {
      expect(isValidName(name), name).to.equal(true);
    }
  });

  const invalid: Array<[string, unknown]> = [
    ['an empty name', ''],
    ['a name of 129 characters', 'x'.repeat(129)],
    ['the single-level wildcard +', 'a+b'],
    ['the multi-level wildcard #', 'a#'],
    ['the level separator /', 'a/b'],
    ['NUL', 'a\u0000b'],
    ['a space', 'a b'],
    ['non-ASCII letters', 'jürgen'],
    ['an emoji', 'user😀'],
    ['a non-string', 42],
  ];
  for (const [what, value] of invalid) {
    it(`rejects ${what}`, () => {
      expect(isValidName(value)).to.equal(false);
    });
  }
});

describe('createTopics', () => {
  const topics = createTopics('axion');

  it('builds the push topic and each notify topic under the root', () => {
    expect(topics.push('crm', 'alice')).to.equal('axion/crm/push/alice');
    expect(topics.notifyUser('crm', 'alice')).to.equal('axion/crm/notify/user/alice');
    expect(topics.notifyGroup('crm', 'sales')).to.equal('axion/crm/notify/group/sales');
    expect(topics.notifyAll('crm')).to.equal('axion/crm/notify/all');
    expect(topics.notifyWildcard).to.equal('axion/+/notify/#');
  });

  it('uses a custom root', () => {
    expect(createTopics('acme-1').push('crm', 'alice')).to.equal('acme-1/crm/push/alice');
  });

  it('uses axion as the default root', () => {
    expect(createTopics().root).to.equal('axion');
  });

  it('refuses to build a topic from a name that could widen or add a level', () => {
    for (const bad of ['+', '#', 'a/b', '', 'a\u0000', 'é']) {
      expect(() => topics.push('crm', bad), `user ${JSON.stringify(bad)}`).to.throw(TypeError);
      expect(() => topics.push(bad, 'alice'), `package ${JSON.stringify(bad)}`).to.throw(TypeError);
      expect(() => topics.notifyGroup('crm', bad), `group ${JSON.stringify(bad)}`).to.throw(
        TypeError,
      );
      expect(() => topics.notifyAll(bad), `package ${JSON.stringify(bad)}`).to.throw(TypeError);
    }
  });

  it('rejects roots that are empty, multi-level, wildcards or longer than 64 characters', () => {
    for (const root of ['', 'a/b', '+', '#', 'axion/', 'r'.repeat(65), '$SYS']) {
      expect(() => createTopics(root), JSON.stringify(root)).to.throw(TypeError);
    }
  });

  describe('parseNotify', () => {
    it('parses user, group and all topics', () => {
      expect(topics.parseNotify('axion/crm/notify/user/alice')).to.deep.equal({
        package: 'crm',
        target: { kind: 'user', user: 'alice' },
      });
      expect(topics.parseNotify('axion/crm/notify/group/sales')).to.deep.equal({
        package: 'crm',
        target: { kind: 'group', group: 'sales' },
      });
      expect(topics.parseNotify('axion/crm/notify/all')).to.deep.equal({
        package: 'crm',
        target: { kind: 'all' },
      });
    });

    it('reads back every topic the builder makes', () => {
      const built = topics.notifyUser('crm.eu', 'bob@example.com');

      expect(topics.parseNotify(built)).to.deep.equal({
        package: 'crm.eu',
        target: { kind: 'user', user: 'bob@example.com' },
      });
    });

    const malformed: Array<[string, string]> = [
      ['another root', 'other/crm/notify/user/alice'],
      ['a push topic', 'axion/crm/push/alice'],
      ['too few levels for a user', 'axion/crm/notify/user'],
      ['too many levels for a user', 'axion/crm/notify/user/alice/extra'],
      ['a level after all', 'axion/crm/notify/all/alice'],
      ['an empty trailing level after all', 'axion/crm/notify/all/'],
      ['an empty user level', 'axion/crm/notify/user/'],
      ['an empty package level', 'axion//notify/all'],
      ['an unknown target kind', 'axion/crm/notify/team/sales'],
      ['a bad package name', 'axion/cr m/notify/all'],
      ['a bad user name', 'axion/crm/notify/user/jürgen'],
      ['a + wildcard package', 'axion/+/notify/all'],
      ['a + wildcard user', 'axion/crm/notify/user/+'],
      ['a # wildcard', 'axion/crm/notify/#'],
      ['a leading slash', '/axion/crm/notify/all'],
    ];
    for (const [what, topic] of malformed) {
      it(`returns null for ${what}`, () => {
        expect(topics.parseNotify(topic)).to.equal(null);
      });
    }
  });

  describe('parsePush', () => {
    it('parses a push topic into its package and user', () => {
      expect(topics.parsePush('axion/crm/push/alice')).to.deep.equal({
        package: 'crm',
        user: 'alice',
      });
    });

    it('returns null for anything that is not a push topic under the root', () => {
      const notPush = [
        'other/crm/push/alice',
        'axion/crm/notify/user/alice',
        'axion/crm/push',
        'axion/crm/push/alice/extra',
        'axion/crm/push/',
        'axion/crm/push/+',
        'axion/+/push/alice',
      ];
      for (const topic of notPush) {
        expect(topics.parsePush(topic), topic).to.equal(null);
      }
    });
  });
});

describe('routeJobId and pushJobId', () => {
  it('are the same for the same inputs', () => {
    expect(routeJobId('evt-1')).to.equal(routeJobId('evt-1'));
    expect(pushJobId('evt-1', 'alice')).to.equal(pushJobId('evt-1', 'alice'));
  });

  it('differ for different inputs', () => {
    expect(routeJobId('evt-1')).not.to.equal(routeJobId('evt-2'));
    expect(pushJobId('evt-1', 'alice')).not.to.equal(pushJobId('evt-1', 'bob'));
    expect(pushJobId('evt-1', 'alice')).not.to.equal(pushJobId('evt-2', 'alice'));
  });

  it('do not collide when the split between event id and user moves', () => {
    expect(pushJobId('evt-1a', 'lice')).not.to.equal(pushJobId('evt-1', 'alice'));
  });

  it('keep route and push jobs of one event apart', () => {
    expect(routeJobId('evt-1')).not.to.equal(pushJobId('evt-1', ''));
  });

  it('never contain the : that BullMQ reserves, even when the inputs do', () => {
    const ids = [routeJobId('a:b:c'), pushJobId('evt:1', 'alice'), pushJobId('x', 'y:z')];
    for (const id of ids) {
      expect(id).not.to.include(':');
    }
  });
});
