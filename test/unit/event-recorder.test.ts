import { expect } from 'chai';
import { createEventRecorder } from '../../services/notify-router/event-recorder.js';
import type { DeliveryCounts, DeliveryStatus } from '../../shared/delivery-status/index.js';
import { eventSchema, type EventInput, type RouteJob } from '../../shared/events/index.js';
import { InMemoryNotificationStore, RecordingInbox, RecordingRouteQueue } from '../support/fake-intake-stores.js';
import { testLogger } from '../support/silent-logger.js';

class RecordingStatus implements Pick<DeliveryStatus, 'setMany'> {
  readonly set_: (readonly [string, Partial<DeliveryCounts>])[] = [];
  async setMany(eventIds: readonly string[], counts: Partial<DeliveryCounts>): Promise<void> {
    for (const id of eventIds) this.set_.push([id, counts]);
  }
}

function job(id: string, event: Partial<EventInput> = {}, realtimePublished = true): RouteJob {
  const { id: _none, ...parsed } = eventSchema.parse({ title: `title of ${id}`, ...event });
  return {
    id,
    package: 'crm',
    target: { user: 'alice' },
    event: parsed,
    acceptedAt: '2026-11-23T10:00:00.000Z',
    source: 'mqtt',
    realtimePublished,
  };
}

function arrange(maxBatch?: number) {
  const notifications = new InMemoryNotificationStore();
  const routeQueue = new RecordingRouteQueue();
  const status = new RecordingStatus();
  const inbox = new RecordingInbox();
  const calls: number[] = [];
  const counting = {
    recordMany: (jobs: readonly RouteJob[]) => (calls.push(jobs.length), notifications.recordMany(jobs)),
  };
  const recorder = createEventRecorder({ notifications: counting, routeQueue, status, inbox, log: testLogger() }, maxBatch);
  return { recorder, notifications, routeQueue, status, inbox, calls };
}

describe('createEventRecorder', () => {
  it('stores events that arrive together with one insert', async () => {
    const { recorder, notifications, calls } = arrange();

    const outcomes = await Promise.all(['a', 'b', 'c'].map((id) => recorder.record(job(id, { delivery: 'realtime' }))));

    expect(outcomes).to.deep.equal(['recorded', 'recorded', 'recorded']);
    expect(calls).to.deep.equal([3]);
    expect([...notifications.rows.keys()]).to.deep.equal(['a', 'b', 'c']);
  });

  it('commits at most maxBatch events at once and the rest with the next commit', async () => {
    const { recorder, calls } = arrange(2);

    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((id) => recorder.record(job(id, { delivery: 'realtime' }))));

    expect(calls).to.deep.equal([2, 2, 1]);
  });

  it('sets the status of a published realtime-only event and routes the others', async () => {
    const { recorder, routeQueue, status } = arrange();

    await Promise.all([
      recorder.record(job('rt', { delivery: 'realtime' })),
      recorder.record(job('offline', { delivery: 'offline' })),
      recorder.record(job('unpublished', { delivery: 'realtime' }, false)),
    ]);

    expect(status.set_).to.deep.equal([['rt', { realtime: 1, pushQueued: 0, pushSkippedOnline: 0 }]]);
    expect(routeQueue.added.map((a) => a.job.id)).to.deep.equal(['offline', 'unpublished']);
  });

  it("puts a published realtime-only event in its user's inbox itself, and leaves the routed ones to routing", async () => {
    const { recorder, inbox } = arrange();

    await Promise.all([
      recorder.record(job('rt-1', { delivery: 'realtime' })),
      recorder.record(job('offline', { delivery: 'offline' })),
      recorder.record(job('rt-2', { delivery: 'realtime' })),
      recorder.record(job('unpublished', { delivery: 'realtime' }, false)),
    ]);

    expect(inbox.calls).to.deep.equal([
      [
        { notificationId: 'rt-1', package: 'crm', user: 'alice' },
        { notificationId: 'rt-2', package: 'crm', user: 'alice' },
      ],
    ]);
  });

  it("publishes the unseen counts of a commit's realtime-only users once its items are stored, without holding the commit", async () => {
    const { recorder, inbox } = arrange();
    let release: () => void = () => undefined;
    const publishing = new Promise<void>((resolve) => (release = resolve));
    const publish = inbox.publishUnseen.bind(inbox);
    inbox.publishUnseen = async (pkg, users) => {
      await publishing;
      return publish(pkg, users);
    };

    await Promise.all([recorder.record(job('rt-1', { delivery: 'realtime' })), recorder.record(job('rt-2', { delivery: 'realtime' }))]);
    expect(inbox.published, 'the events were acknowledged while the counts were still going out').to.deep.equal([]);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(inbox.published).to.deep.equal([['crm/alice']]);
  });

  it('records the events of a commit whose counts could not be published (the next change brings the count)', async () => {
    const { recorder, inbox } = arrange();
    inbox.publishFailsWith = new Error('broker is down');

    expect(await recorder.record(job('rt', { delivery: 'realtime' }))).to.equal('recorded');
    expect(inbox.calls.flat().map((e) => e.notificationId)).to.deep.equal(['rt']);
  });

  it('rejects the events of a commit whose inbox write failed, so the intake stores them again', async () => {
    const { recorder, inbox } = arrange();
    inbox.failWith = new Error('database is down');

    const failed = await recorder.record(job('rt', { delivery: 'realtime' })).then(() => 'recorded', () => 'rejected');
    inbox.failWith = null;
    const again = await recorder.record(job('rt', { delivery: 'realtime' }));

    expect([failed, again]).to.deep.equal(['rejected', 'recorded']);
    expect(inbox.calls.flat().map((e) => e.notificationId)).to.deep.equal(['rt']);
  });

  it('answers conflict for an id already used by another event, and recorded for a repeat', async () => {
    const { recorder, notifications, routeQueue } = arrange();
    await recorder.record(job('x', { title: 'first' }));

    const repeat = await recorder.record(job('x', { title: 'first' }));
    const clash = await recorder.record(job('x', { title: 'second' }));

    expect([repeat, clash]).to.deep.equal(['recorded', 'conflict']);
    expect(JSON.parse(notifications.rows.get('x')!.event)).to.include({ title: 'first' });
    expect(routeQueue.added.map((a) => a.job.event.title)).to.deep.equal(['first', 'first']);
  });

  it('rejects every event of a commit that failed, and stores the next ones', async () => {
    const { recorder, notifications } = arrange();
    notifications.failWith = new Error('database is down');

    const failed = await Promise.allSettled([recorder.record(job('a')), recorder.record(job('b'))]);
    notifications.failWith = null;
    const later = await recorder.record(job('a'));

    expect(failed.map((f) => f.status)).to.deep.equal(['rejected', 'rejected']);
    expect(later).to.equal('recorded');
  });
});

describe('createEventRecorder with one id twice in a commit', () => {
  it('records the first and answers conflict for the second when their content differs', async () => {
    const { recorder } = arrange();

    const outcomes = await Promise.all([recorder.record(job('x', { title: 'first' })), recorder.record(job('x', { title: 'second' }))]);

    expect(outcomes).to.deep.equal(['recorded', 'conflict']);
  });
});
