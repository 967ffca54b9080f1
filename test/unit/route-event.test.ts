import { expect } from 'chai';
import {
  buildMessage,
  MAX_USERS_PER_PUSH_JOB,
  routeJobSchema,
  type EventInput,
  type PushJob,
  type RouteJob,
  type Target,
} from '../../shared/events/index.js';
import type { PushQueue } from '../../shared/queue/index.js';
import { createTopics } from '../../shared/topics/index.js';
import type { RealtimePublisher } from '../../services/notify-router/realtime-publisher.js';
import { pushJobId } from '../../shared/topics/index.js';
import { createTargetResolver } from '../../services/notify-router/resolve-target.js';
import { MIN_DELIVERY_WINDOW_MS, routeEvent, type RouteEventDeps } from '../../services/notify-router/route-event.js';
import { RecordingInbox } from '../support/fake-intake-stores.js';
import { testLogger } from '../support/silent-logger.js';

const ACCEPTED_AT = '2026-11-23T10:00:00.000Z';

/** A broker that acknowledges every publish, except on topics told to fail. */
class RecordingPublisher implements Pick<RealtimePublisher, 'publish'> {
  readonly published: { topic: string; payload: string }[] = [];
  private readonly failing = new Map<string, Error>();

  failOn(topic: string, error: Error): this {
    this.failing.set(topic, error);
    return this;
  }

  async publish(topic: string, payload: string): Promise<void> {
    const error = this.failing.get(topic);
    if (error) throw error;
    this.published.push({ topic, payload });
  }
}

class RecordingPushQueue implements PushQueue {
  readonly batches: PushJob[][] = [];

  async addBulk(jobs: readonly PushJob[]): Promise<void> {
    this.batches.push([...jobs]);
  }

  close(): Promise<void> {
    throw new Error('close was not expected');
  }

  jobs(): PushJob[] {
    return this.batches.flat();
  }
}

/** Routing totals as the status store would hold them: set, not added. */
class RecordingStatus {
  readonly totals = new Map<string, Record<string, number>>();

  async set(eventId: string, counts: Record<string, number>): Promise<void> {
    this.totals.set(eventId, { ...this.totals.get(eventId), ...counts });
  }
}

function arrange(online: string[] = []) {
  const realtime = new RecordingPublisher();
  const pushQueue = new RecordingPushQueue();
  const status = new RecordingStatus();
  // Presence as the broker would have it: these users have a live session.
  const presence = { online: async (_pkg: string, users: readonly string[]) => new Set(users.filter((u) => online.includes(u))) };
  // Groups as the store would stream them: in batches of two.
  const groups = {
    members: new Map<string, string[]>([['sales', ['ann', 'ben', 'cid', 'dee', 'eve']]]),
    async forEachBatch(_pkg: string, group: string, size: number, each: (users: string[]) => Promise<void>) {
      const all = this.members.get(group) ?? [];
      for (let i = 0; i < all.length; i += size) await each(all.slice(i, i + size));
    },
    async forEachActiveUserBatch(_pkg: string, size: number, each: (users: string[]) => Promise<void>) {
      await this.forEachBatch(_pkg, 'sales', size, each);
    },
  };
  const inbox = new RecordingInbox();
  const deps: RouteEventDeps = {
    realtime, pushQueue, presence, status, inbox, topics: createTopics(), log: testLogger(),
    resolveTarget: createTargetResolver(groups, 2),
  };
  return { deps, realtime, pushQueue, status, inbox };
}

function routeJob(event: Partial<EventInput> = {}, target: Target = { user: 'alice' }): RouteJob {
  return routeJobSchema.parse({
    id: 'evt-1',
    package: 'crm',
    target,
    event: { title: 'Invoice paid', body: 'INV-1 was paid', url: '/inv/1', ...event },
    acceptedAt: ACCEPTED_AT,
    source: 'http',
    requestId: 'req-1',
  });
}

/** The Message `user` should receive, as it looks once sent as JSON. */
function messageFor(job: RouteJob, user: string): Record<string, unknown> {
  const ids = { id: job.id, package: job.package, user, createdAt: job.acceptedAt };
  return JSON.parse(JSON.stringify(buildMessage(job.event, ids)));
}

describe('routeEvent', () => {
  it("publishes the user's Message as JSON on axion/<pkg>/push/<user>", async () => {
    const { deps, realtime } = arrange();
    const job = routeJob();

    await routeEvent(deps, job);

    expect(realtime.published).to.have.length(1);
    expect(realtime.published[0]!.topic).to.equal('axion/crm/push/alice');
    expect(JSON.parse(realtime.published[0]!.payload)).to.deep.equal(messageFor(job, 'alice'));
  });

  it("puts every target user's item in the inbox once per batch, without waiting for that batch's Messages", async () => {
    const { deps, realtime, inbox } = arrange();
    // A broker that holds every acknowledgement until the inbox has been written.
    let inboxWrites = 0;
    const addToInbox = inbox.add.bind(inbox);
    inbox.add = async (entries) => (inboxWrites += 1, addToInbox(entries));
    const publish = realtime.publish.bind(realtime);
    realtime.publish = async (topic, payload) => {
      const writes = inboxWrites;
      while (inboxWrites === writes) await new Promise((resolve) => setImmediate(resolve));
      return publish(topic, payload);
    };

    await routeEvent(deps, routeJob({}, { group: 'sales' }));

    expect(inbox.calls.map((entries) => entries.map((e) => e.user))).to.deep.equal([['ann', 'ben'], ['cid', 'dee'], ['eve']]);
    expect(inbox.calls.flat().every((e) => e.notificationId === 'evt-1' && e.package === 'crm')).to.equal(true);
    expect(realtime.published).to.have.length(5);
  });

  it("requests a batch's unseen counts once its Messages went out, and finishes only when they are out", async () => {
    const { deps, realtime, inbox } = arrange();
    const publishedBeforeCounts: number[] = [];
    let countsOut = 0;
    inbox.publishUnseen = async () => {
      publishedBeforeCounts.push(realtime.published.length);
      await new Promise((resolve) => setImmediate(resolve));
      countsOut += 1;
    };

    await routeEvent(deps, routeJob({}, { group: 'sales' }));

    expect(publishedBeforeCounts).to.deep.equal([2, 4, 5]);
    expect(countsOut).to.equal(3);
  });

  it('rejects when a batch\'s counts cannot be published, so the route job is retried', async () => {
    const { deps, inbox } = arrange();
    inbox.publishFailsWith = new Error('broker unavailable');

    const routing = await routeEvent(deps, routeJob({}, { group: 'sales' })).then(() => 'routed', (err: Error) => err.message);

    expect(routing).to.equal('broker unavailable');
  });

  it('fills the inbox for an event the MQTT intake already published, without publishing it again', async () => {
    const { deps, realtime, inbox } = arrange();

    await routeEvent(deps, { ...routeJob({ delivery: 'always' }), realtimePublished: true });

    expect(realtime.published).to.deep.equal([]);
    expect(inbox.calls).to.deep.equal([[{ notificationId: 'evt-1', package: 'crm', user: 'alice' }]]);
  });

  it('rejects when the inbox cannot be written, before any push job is queued, so the route job is retried', async () => {
    const { deps, inbox, pushQueue } = arrange();
    inbox.failWith = new Error('database is down');

    const routing = await routeEvent(deps, routeJob({ delivery: 'always' })).then(() => 'routed', (err: Error) => err.message);

    expect(routing).to.equal('database is down');
    expect(pushQueue.jobs()).to.deep.equal([]);
  });

  for (const delivery of ['offline', 'always'] as const) {
    it(`queues a push job when delivery is ${delivery}`, async () => {
      const { deps, pushQueue } = arrange();

      const outcome = await routeEvent(deps, routeJob({ delivery }));

      expect(pushQueue.jobs().map((j) => j.users)).to.deep.equal([['alice']]);
      expect(outcome).to.deep.equal({ realtime: 1, pushQueued: 1, pushSkippedOnline: 0 });
    });
  }

  it('queues no push job when delivery is realtime, but still publishes', async () => {
    const { deps, realtime, pushQueue } = arrange();

    const outcome = await routeEvent(deps, routeJob({ delivery: 'realtime' }));

    expect(pushQueue.jobs()).to.deep.equal([]);
    expect(realtime.published).to.have.length(1);
    expect(outcome).to.deep.equal({ realtime: 1, pushQueued: 0, pushSkippedOnline: 0 });
  });

  it('gives the push job the Message, the event id, urgency, topic, ttl and an expiry of acceptedAt + ttl', async () => {
    const { deps, pushQueue } = arrange();
    const job = routeJob({ ttl: 600, urgency: 'high', topic: 'invoice-1' });

    await routeEvent(deps, job);

    const [pushJob] = pushQueue.jobs();
    expect(pushJob).to.deep.include({
      eventId: 'evt-1',
      package: 'crm',
      users: ['alice'],
      ttl: 600,
      urgency: 'high',
      topic: 'invoice-1',
      expiresAt: Date.parse(ACCEPTED_AT) + 600 * 1000,
      requestId: 'req-1',
    });
    const { user: _user, ...template } = messageFor(job, 'alice');
    expect(JSON.parse(JSON.stringify(pushJob!.message))).to.deep.equal(template);
  });

  it('publishes to each user of a users target and queues them in one push job, in one addBulk call', async () => {
    const { deps, realtime, pushQueue } = arrange();
    const users = ['alice', 'bob', 'carol@example.com'];
    const job = routeJob({}, { users });

    const outcome = await routeEvent(deps, job);

    expect(realtime.published.map((p) => p.topic)).to.have.members(
      users.map((u) => `axion/crm/push/${u}`),
    );
    for (const { topic, payload } of realtime.published) {
      const user = topic.split('/')[3]!;
      expect(JSON.parse(payload)).to.deep.equal(messageFor(job, user));
    }
    expect(pushQueue.batches).to.have.length(1);
    expect(pushQueue.batches[0]!.map((j) => j.users)).to.deep.equal([users]);
    expect(pushQueue.batches[0]![0]!.message).to.not.have.property('user');
    expect(outcome).to.deep.equal({ realtime: 3, pushQueued: 3, pushSkippedOnline: 0 });
  });

  it('splits a large target into push jobs of at most MAX_USERS_PER_PUSH_JOB users, the same chunks every time', async () => {
    const { deps, pushQueue } = arrange();
    const users = Array.from({ length: 2.5 * MAX_USERS_PER_PUSH_JOB }, (_, i) => `user-${i}`);
    const job = routeJob({}, { users });

    await routeEvent(deps, job);
    await routeEvent(deps, job);

    const [first, second] = pushQueue.batches;
    expect(first!.map((j) => j.users.length)).to.deep.equal([MAX_USERS_PER_PUSH_JOB, MAX_USERS_PER_PUSH_JOB, MAX_USERS_PER_PUSH_JOB / 2]);
    expect(first!.flatMap((j) => j.users)).to.deep.equal(users);
    expect(second!.map((j) => j.users)).to.deep.equal(first!.map((j) => j.users));
  });

  it('rejects when a publish fails, so that the route job is retried', async () => {
    const { deps, realtime } = arrange();
    realtime.failOn('axion/crm/push/bob', new Error('broker unavailable'));

    const routing = routeEvent(deps, routeJob({}, { users: ['alice', 'bob'] }));

    await routing.then(
      () => expect.fail('routeEvent resolved although a publish failed'),
      (err: Error) => expect(err.message).to.equal('broker unavailable'),
    );
  });

  // A scheduled event's TTL runs from its sendAt.
  it('counts the lifetime of a scheduled event from its sendAt, not from when it was accepted', async () => {
    const { deps, pushQueue } = arrange();
    const sendAt = '2026-11-25T10:00:00.000Z';

    await routeEvent(deps, routeJob({ ttl: 3600, sendAt }));

    expect(pushQueue.jobs()[0]!.expiresAt).to.equal(Date.parse(sendAt) + 3600 * 1000);
  });

  it('records how many users were reached in realtime and queued for push, the same when routed twice', async () => {
    const { deps, status } = arrange();
    const job = routeJob({}, { users: ['alice', 'bob', 'carol'] });

    await routeEvent(deps, job);
    await routeEvent(deps, job);

    expect(status.totals.get('evt-1')).to.deep.equal({ realtime: 3, pushQueued: 3, pushSkippedOnline: 0 });
  });

  it('gives an event with TTL 0 a short delivery window instead of expiring it at once', async () => {
    const { deps, pushQueue } = arrange();
    const job = routeJob({ ttl: 0 });

    await routeEvent(deps, job);

    const [pushed] = pushQueue.jobs();
    expect(pushed?.ttl).to.equal(0);
    expect(pushed?.expiresAt).to.equal(Date.parse(job.acceptedAt) + MIN_DELIVERY_WINDOW_MS);
  });

  it('with delivery offline, queues Web Push only for users without a live session, and records how many it left out', async () => {
    const { deps, realtime, pushQueue, status } = arrange(['bob']);

    await routeEvent(deps, routeJob({ delivery: 'offline' }, { users: ['alice', 'bob', 'carol'] }));

    expect(realtime.published).to.have.length(3);
    expect(pushQueue.jobs().flatMap((j) => j.users)).to.deep.equal(['alice', 'carol']);
    expect(status.totals.get('evt-1')).to.include({ pushQueued: 2, pushSkippedOnline: 1 });
  });

  it('with delivery always, queues Web Push for online users too', async () => {
    const { deps, pushQueue } = arrange(['bob']);

    await routeEvent(deps, routeJob({ delivery: 'always' }, { users: ['alice', 'bob'] }));

    expect(pushQueue.jobs().flatMap((j) => j.users)).to.deep.equal(['alice', 'bob']);
  });

  it('fans a group out batch by batch: every member gets the Message and a push, counted once', async () => {
    const { deps, realtime, pushQueue, status } = arrange(['cid']);

    await routeEvent(deps, routeJob({}, { group: 'sales' }));

    expect(realtime.published.map((p) => p.topic.split('/')[3])).to.have.members(['ann', 'ben', 'cid', 'dee', 'eve']);
    expect(pushQueue.batches.map((b) => b.flatMap((j) => j.users))).to.deep.equal([['ann', 'ben'], ['dee'], ['eve']]);
    expect(status.totals.get('evt-1')).to.deep.equal({ realtime: 5, pushQueued: 4, pushSkippedOnline: 1 });
  });

  it('routes "all" through the active users of the package', async () => {
    const { deps, realtime } = arrange();

    await routeEvent(deps, routeJob({}, { all: true }));

    expect(realtime.published).to.have.length(5);
  });

  it('keys push jobs by the routing chunk, not by who was online, so a retry after a presence change queues nothing twice', async () => {
    const first = arrange(['bob']);
    const second = arrange([]);
    const job = routeJob({ delivery: 'offline' }, { users: ['alice', 'bob'] });

    await routeEvent(first.deps, job);
    await routeEvent(second.deps, job);

    const [before] = first.pushQueue.jobs();
    const [after] = second.pushQueue.jobs();
    expect(before!.users).to.deep.equal(['alice']);
    expect(after!.users).to.deep.equal(['alice', 'bob']);
    expect(pushJobId(before!.eventId, before!.chunk!)).to.equal(pushJobId(after!.eventId, after!.chunk!));
  });
});
