import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { expect } from 'chai';
import { createInboxStore, createNotificationStore, type InboxStore } from '../../shared/database/index.js';
import { routeJobSchema } from '../../shared/events/index.js';
import { INBOX_JOBS } from '../../shared/queue/index.js';
import { QUEUE_NAMES } from '../../shared/topics/index.js';
import { startTestApi, type TestApi } from '../support/test-api.js';
import { userToken } from '../support/tokens.js';

describe('inbox API on MariaDB', function () {
  this.timeout(30_000);
  let api: TestApi;
  let inbox: InboxStore;

  before(async function () {
    api = await startTestApi({ database: 'mysql' });
    inbox = createInboxStore(api.dataSource);
  });
  after(async function () {
    await api?.close();
  });

  const freshUser = () => `u-${randomUUID().slice(0, 8)}`;
  const as = async (user: string, packages = ['crm']) => ({ authorization: `Bearer ${await userToken(user, packages)}` });

  /** Notifications routed to `user`, in this order, each a millisecond after the one before. */
  async function deliver(user: string, titles: string[], pkg = 'crm'): Promise<string[]> {
    const notifications = createNotificationStore(api.dataSource);
    const ids: string[] = [];
    const start = Date.now();
    for (const [i, title] of titles.entries()) {
      const id = `evt-${randomUUID()}`;
      await notifications.record(routeJobSchema.parse({
        id, package: pkg, target: { user }, source: 'http', acceptedAt: new Date(start + i).toISOString(),
        event: { title, body: `${title} body`, url: `/n/${i}`, data: { n: i } },
      }));
      await inbox.add([{ notificationId: id, package: pkg, user }], new Date(start + i));
      ids.push(id);
    }
    return ids;
  }

  const titles = (body: Record<string, any>) => (body['items'] as { message: { title: string } }[]).map((i) => i.message.title);

  it('answers 401 without credentials and 403 for a package the user does not belong to', async function () {
    const user = freshUser();
    expect((await api.call('GET', '/v1/inbox?package=crm')).status).to.equal(401);
    expect((await api.call('POST', '/v1/inbox/seen', { package: 'crm', ids: ['1'] })).status).to.equal(401);
    const other = await api.call('GET', '/v1/inbox?package=billing', undefined, await as(user));
    expect(other.status).to.equal(403);
    expect(other.body['error']['code']).to.equal('forbidden');
  });

  it("lists the caller's items newest first with their Message, the unseen count, and pages back with next", async function () {
    const user = freshUser();
    const ids = await deliver(user, ['one', 'two', 'three']);
    await deliver(freshUser(), ['someone else']);
    const headers = await as(user);

    const first = await api.call('GET', '/v1/inbox?package=crm&limit=2', undefined, headers);
    const second = await api.call('GET', `/v1/inbox?package=crm&limit=2&before=${first.body['next']}`, undefined, headers);

    expect(first.status).to.equal(200);
    expect(titles(first.body)).to.deep.equal(['three', 'two']);
    expect(first.body['unseen']).to.equal(3);
    const [item] = first.body['items'];
    expect(item).to.include({ notificationId: ids[2], seenAt: null });
    expect(item.message).to.deep.include({ id: ids[2], package: 'crm', user, title: 'three', body: 'three body', url: '/n/2', data: { n: 2 } });
    expect(Date.parse(item.createdAt)).to.be.a('number').and.not.NaN;
    expect(titles(second.body)).to.deep.equal(['one']);
    expect(second.body['next']).to.equal(null);
  });

  it('catches up after a reconnect: after answers exactly the items newer than the cursor, page by page', async function () {
    const user = freshUser();
    const headers = await as(user);
    await deliver(user, ['seen before']);
    const before = await api.call('GET', '/v1/inbox?package=crm', undefined, headers);
    const cursor = before.body['items'][0].cursor as string;
    // Missed while away.
    await deliver(user, ['missed 1', 'missed 2', 'missed 3']);

    const page1 = await api.call('GET', `/v1/inbox?package=crm&after=${cursor}&limit=2`, undefined, headers);
    const page2 = await api.call('GET', `/v1/inbox?package=crm&after=${page1.body['next']}&limit=2`, undefined, headers);
    const nothing = await api.call('GET', `/v1/inbox?package=crm&after=${page2.body['items'][0].cursor}`, undefined, headers);

    expect(titles(page1.body)).to.deep.equal(['missed 2', 'missed 1']);
    expect(titles(page2.body)).to.deep.equal(['missed 3']);
    expect(page2.body['next']).to.equal(null);
    expect(titles(nothing.body)).to.deep.equal([]);
  });

  it('marks items seen by ids or up to a cursor, answers the unseen count, and hands it to the routers', async function () {
    const user = freshUser();
    const headers = await as(user);
    await deliver(user, ['a', 'b', 'c', 'd']);
    const stranger = freshUser();
    await deliver(stranger, ['not yours']);
    const theirs = await api.call('GET', '/v1/inbox?package=crm', undefined, await as(stranger));
    const { body } = await api.call('GET', '/v1/inbox?package=crm', undefined, headers);
    const [d, , b] = body['items'] as { id: string; cursor: string }[];

    const byIds = await api.call('POST', '/v1/inbox/seen', { package: 'crm', ids: [d!.id, theirs.body['items'][0].id] }, headers);
    const upTo = await api.call('POST', '/v1/inbox/seen', { package: 'crm', upTo: b!.cursor }, headers);
    const unseen = await api.call('GET', '/v1/inbox?package=crm&state=unseen', undefined, headers);
    const seen = await api.call('GET', '/v1/inbox?package=crm&state=seen', undefined, headers);

    expect(byIds.body).to.deep.equal({ ok: true, marked: 1, unseen: 3 });
    expect(upTo.body).to.deep.equal({ ok: true, marked: 2, unseen: 1 });
    expect(titles(unseen.body)).to.deep.equal(['c']);
    expect(titles(seen.body)).to.deep.equal(['d', 'b', 'a']);
    expect(seen.body['items'][0].seenAt).to.be.a('string');
    const strangerAfter = await api.call('GET', '/v1/inbox?package=crm', undefined, await as(stranger));
    expect(strangerAfter.body['unseen']).to.equal(1);
    const queue = new Queue(QUEUE_NAMES.inbox, { connection: api.redis, prefix: api.prefix });
    try {
      const jobs = await queue.getJobs(['waiting']);
      expect(jobs.map((j) => [j.name, j.data])).to.deep.equal([
        [INBOX_JOBS.unseen, { package: 'crm', user }],
        [INBOX_JOBS.unseen, { package: 'crm', user }],
      ]);
    } finally {
      await queue.close();
    }
  });

  it('answers 400 for bad input, naming what is wrong', async function () {
    const headers = await as(freshUser());
    const cursor = Buffer.from(`${Date.now()}.12`).toString('base64url');
    const badQueries = [
      '', 'package=c/rm', 'package=crm&state=new', 'package=crm&limit=0', 'package=crm&limit=201',
      'package=crm&limit=ten', 'package=crm&before=nonsense', `package=crm&before=${cursor}&after=${cursor}`,
      'package=crm&other=1', `package=crm&after=${Buffer.from('12.0').toString('base64url')}`,
    ];
    for (const query of badQueries) {
      const res = await api.call('GET', `/v1/inbox?${query}`, undefined, headers);
      expect(res.status, query).to.equal(400);
      expect(res.body['error']['code'], query).to.equal('invalid_request');
    }
    const badBodies = [
      {}, { package: 'crm' }, { package: 'crm', ids: [] }, { package: 'crm', ids: ['x'] },
      { package: 'crm', ids: Array.from({ length: 201 }, (_, i) => String(i + 1)) },
      { package: 'crm', upTo: 'nope' }, { package: 'crm', ids: ['1'], upTo: cursor }, 'not json',
    ];
    for (const body of badBodies) {
      const res = await api.call('POST', '/v1/inbox/seen', body, headers);
      expect(res.status, JSON.stringify(body)).to.equal(400);
    }
    const fine = await api.call('GET', '/v1/inbox?package=crm', undefined, headers);
    expect(fine.body).to.deep.equal({ items: [], unseen: 0, next: null });
  });
});
