import { expect } from 'chai';
import { ConflictError, TooLargeError, ValidationError } from '../../shared/errors/index.js';
import { eventSchema, type EventInput, type RouteJob } from '../../shared/events/index.js';
import { acceptEvent, type AcceptEventDeps } from '../../shared/intake/index.js';
import { InMemoryNotificationStore, RecordingRouteQueue } from '../support/fake-intake-stores.js';
import { testLogger } from '../support/silent-logger.js';

const T0 = Date.UTC(2026, 10, 23, 10, 0, 0);

function arrange() {
  let nowMs = T0;
  const notifications = new InMemoryNotificationStore();
  const routeQueue = new RecordingRouteQueue();
  const deps: AcceptEventDeps = {
    notifications,
    routeQueue,
    log: testLogger(),
    now: () => new Date(nowMs),
  };
  const advance = (ms: number) => (nowMs += ms);
  return { deps, notifications, routeQueue, advance };
}

function input(event: Partial<EventInput> = {}) {
  return {
    package: 'crm',
    target: { user: 'alice' },
    event: eventSchema.parse({ title: 'Invoice paid', body: 'INV-1 was paid', ...event }),
    source: 'http' as const,
    requestId: 'req-1',
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The error `promise` rejects with; fails the test when it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (err: Error) => err,
  );
}

describe('acceptEvent', () => {
  it('generates an id when the event has none, and queues the event under it', async () => {
    const { deps, routeQueue } = arrange();

    const first = await acceptEvent(deps, input());
    const second = await acceptEvent(deps, input());

    expect(first.id).to.match(/^[0-9a-f-]{36}$/);
    expect(second.id).not.to.equal(first.id);
    expect(first.repeated).to.equal(false);
    expect(routeQueue.added.map((a) => a.job.id)).to.deep.equal([first.id, second.id]);
  });

  it('keeps the id the producer gave', async () => {
    const { deps, routeQueue } = arrange();

    const result = await acceptEvent(deps, input({ id: 'invoice-1-paid' }));

    expect(result).to.deep.equal({ id: 'invoice-1-paid', repeated: false });
    expect(routeQueue.added[0]!.job.id).to.equal('invoice-1-paid');
  });

  it('queues a route job accepted at the injected now, at once, without the id in the event', async () => {
    const { deps, routeQueue } = arrange();

    await acceptEvent(deps, input({ id: 'evt-1' }));

    expect(routeQueue.added).to.have.length(1);
    const [{ job, delayMs }] = routeQueue.added as [{ job: RouteJob; delayMs: number }];
    expect(delayMs).to.equal(0);
    expect(job).to.deep.include({
      id: 'evt-1',
      package: 'crm',
      target: { user: 'alice' },
      acceptedAt: iso(T0),
      source: 'http',
      requestId: 'req-1',
    });
    expect(job.event).to.include({ title: 'Invoice paid', body: 'INV-1 was paid' });
    expect(job.event).not.to.have.property('id');
  });

  it('answers a repeat with the same content as repeated and queues it again with the first acceptedAt', async () => {
    const { deps, routeQueue, advance } = arrange();
    await acceptEvent(deps, input({ id: 'evt-1' }));
    advance(5_000);

    const result = await acceptEvent(deps, input({ id: 'evt-1' }));

    expect(result).to.deep.equal({ id: 'evt-1', repeated: true });
    expect(routeQueue.added).to.have.length(2);
    expect(routeQueue.added[1]!.job).to.deep.equal(routeQueue.added[0]!.job);
    expect(routeQueue.added[1]!.job.acceptedAt).to.equal(iso(T0));
  });

  it('rejects the same id with other content as a conflict and queues nothing more', async () => {
    const { deps, routeQueue } = arrange();
    await acceptEvent(deps, input({ id: 'evt-1' }));

    const err = await rejectionOf(acceptEvent(deps, input({ id: 'evt-1', title: 'Invoice due' })));

    expect(err).to.be.instanceOf(ConflictError);
    expect(routeQueue.added).to.have.length(1);
  });

  it('rejects a Message too large for one Web Push record and records and queues nothing', async () => {
    const { deps, notifications, routeQueue } = arrange();

    const err = await rejectionOf(acceptEvent(deps, input({ data: { blob: 'x'.repeat(4000) } })));

    expect(err).to.be.instanceOf(TooLargeError);
    expect(notifications.rows.size).to.equal(0);
    expect(routeQueue.added).to.deep.equal([]);
  });

  it('delays the route job until a sendAt in the future', async () => {
    const { deps, routeQueue } = arrange();

    await acceptEvent(deps, input({ sendAt: iso(T0 + 2 * 3600_000) }));

    expect(routeQueue.added[0]!.delayMs).to.equal(2 * 3600_000);
  });

  it('rejects a sendAt more than a minute in the past and records and queues nothing', async () => {
    const { deps, notifications, routeQueue } = arrange();

    const err = await rejectionOf(acceptEvent(deps, input({ sendAt: iso(T0 - 61_000) })));

    expect(err).to.be.instanceOf(ValidationError);
    expect(notifications.rows.size).to.equal(0);
    expect(routeQueue.added).to.deep.equal([]);
  });

  it('sends at once when sendAt is 30 seconds in the past (clock skew)', async () => {
    const { deps, routeQueue } = arrange();

    await acceptEvent(deps, input({ sendAt: iso(T0 - 30_000) }));

    expect(routeQueue.added[0]!.delayMs).to.equal(0);
  });

  // A producer retrying late must not get a 400 for a sendAt that was fine the first time.
  it('answers a repeat of a scheduled event as repeated even after its sendAt has passed', async () => {
    const { deps, advance } = arrange();
    await acceptEvent(deps, input({ id: 'evt-1', sendAt: iso(T0 + 30_000) }));
    advance(2 * 60_000);

    const result = await acceptEvent(deps, input({ id: 'evt-1', sendAt: iso(T0 + 30_000) }));

    expect(result).to.deep.equal({ id: 'evt-1', repeated: true });
  });
});
