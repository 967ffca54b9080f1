import { expect } from 'chai';
import { startTestApi, type TestApi } from '../support/test-api.js';

const CRM_KEY = 'crm-groups-key-0123456789';
const BILLING_KEY = 'billing-groups-key-0123456789';
const ALL_KEY = 'all-packages-key-0123456789';

describe('group membership API on MariaDB', function () {
  let api: TestApi;

  before(async function () {
    api = await startTestApi({
      database: 'mysql',
      apiKeys: [
        { name: 'crm-app', key: CRM_KEY, packages: ['crm'], admin: false, router: false },
        { name: 'billing-app', key: BILLING_KEY, packages: ['billing'], admin: false, router: false },
        { name: 'platform', key: ALL_KEY, packages: '*', admin: false, router: false },
      ],
    });
  });

  after(async function () {
    await api?.close();
  });

  const crm = { 'x-api-key': CRM_KEY };
  const member = (group: string, user: string, pkg = 'crm') =>
    `/v1/groups/${pkg}/${encodeURIComponent(group)}/members/${encodeURIComponent(user)}`;
  const members = (group: string, query = '', pkg = 'crm') => `/v1/groups/${pkg}/${group}/members${query}`;

  describe('authentication and access', function () {
    it('answers 401 without an API key and with an unknown one', async function () {
      const attempts: Record<string, string>[] = [{}, { 'x-api-key': 'not-a-key' }, { authorization: 'Bearer not-a-key' }];
      for (const headers of attempts) {
        for (const [method, path] of [['PUT', member('sales', 'alice')], ['DELETE', member('sales', 'alice')], ['GET', members('sales')]] as const) {
          const res = await api.call(method, path, undefined, headers);
          expect(res.status, `${method} ${path}`).to.equal(401);
          expect(res.body['error']['code']).to.equal('unauthenticated');
        }
      }
    });

    it('answers 403 for a key of another package, and changes nothing', async function () {
      const billing = { 'x-api-key': BILLING_KEY };
      expect((await api.call('PUT', member('locked', 'alice'), undefined, billing)).status).to.equal(403);
      expect((await api.call('GET', members('locked'), undefined, billing)).status).to.equal(403);
      const res = await api.call('DELETE', member('locked', 'alice'), undefined, billing);
      expect(res.status).to.equal(403);
      expect(res.body).to.deep.equal({ error: { code: 'forbidden', message: 'not allowed for package crm' } });
      expect((await api.call('GET', members('locked'), undefined, crm)).body['members']).to.deep.equal([]);
    });

    it('accepts a key for every package, and the key as a Bearer token', async function () {
      expect((await api.call('PUT', member('any', 'alice'), undefined, { 'x-api-key': ALL_KEY })).status).to.equal(201);
      const res = await api.call('GET', members('any'), undefined, { authorization: `Bearer ${CRM_KEY}` });
      expect(res.body['members']).to.deep.equal(['alice']);
    });
  });

  describe('validation', function () {
    it('answers 400 for a package, group or user outside the allowed characters', async function () {
      for (const path of [member('sales', 'a+b'), member('sales', 'a#b'), member('sa les', 'alice'), member('sales', 'x'.repeat(129)), member('sales', 'alice', 'cr%2Bm')]) {
        const res = await api.call('PUT', path, undefined, { 'x-api-key': ALL_KEY });
        expect(res.status, path).to.equal(400);
        expect(res.body['error']['code']).to.equal('invalid_request');
      }
    });

    it('answers 400 for a limit outside 1..1000 or an invalid cursor', async function () {
      for (const query of ['?limit=0', '?limit=1001', '?limit=ten', '?limit=1.5', '?limit=1&limit=2', '?after=a%2Fb']) {
        const res = await api.call('GET', members('sales', query), undefined, crm);
        expect(res.status, query).to.equal(400);
        expect(res.body['error']['code']).to.equal('invalid_request');
      }
    });
  });

  describe('PUT and DELETE', function () {
    it('answers 201 when adding a member and 200 when they already are one', async function () {
      const first = await api.call('PUT', member('put-twice', 'alice'), undefined, crm);
      const second = await api.call('PUT', member('put-twice', 'alice'), undefined, crm);
      expect(first.status).to.equal(201);
      expect(first.body).to.deep.equal({ ok: true, added: true });
      expect(second.status).to.equal(200);
      expect(second.body).to.deep.equal({ ok: true, added: false });
      expect((await api.call('GET', members('put-twice'), undefined, crm)).body['members']).to.deep.equal(['alice']);
    });

    it('answers 200 when removing a member and 404 when they are not one', async function () {
      await api.call('PUT', member('leavers', 'bob'), undefined, crm);
      const removed = await api.call('DELETE', member('leavers', 'bob'), undefined, crm);
      expect(removed.status).to.equal(200);
      expect(removed.body).to.deep.equal({ ok: true });
      const again = await api.call('DELETE', member('leavers', 'bob'), undefined, crm);
      expect(again.status).to.equal(404);
      expect(again.body['error']['code']).to.equal('not_found');
      expect((await api.call('GET', members('leavers'), undefined, crm)).body['members']).to.deep.equal([]);
    });
  });

  describe('GET members', function () {
    it('lists members in user order, with next null on the last page', async function () {
      for (const user of ['carol', 'alice', 'bob']) await api.call('PUT', member('small', user), undefined, crm);
      const res = await api.call('GET', members('small'), undefined, crm);
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({ members: ['alice', 'bob', 'carol'], next: null });
    });

    it('answers 100 members when no limit is given', async function () {
      const users = Array.from({ length: 101 }, (_, i) => `m-${String(i).padStart(3, '0')}`);
      for (let i = 0; i < users.length; i += 20) {
        await Promise.all(users.slice(i, i + 20).map((user) => api.call('PUT', member('hundred', user), undefined, crm)));
      }
      const res = await api.call('GET', members('hundred'), undefined, crm);
      expect(res.body['members']).to.deep.equal(users.slice(0, 100));
      expect(res.body['next']).to.equal('m-099');
    });

    it('pages with the next cursor until next is null, each member once', async function () {
      const users = Array.from({ length: 7 }, (_, i) => `user-${i}`);
      for (const user of users) await api.call('PUT', member('paged', user), undefined, crm);

      const pages: string[][] = [];
      let query = '?limit=3';
      for (;;) {
        const res = await api.call('GET', members('paged', query), undefined, crm);
        expect(res.status).to.equal(200);
        pages.push(res.body['members']);
        if (res.body['next'] === null) break;
        query = `?limit=3&after=${encodeURIComponent(res.body['next'])}`;
      }

      expect(pages).to.deep.equal([['user-0', 'user-1', 'user-2'], ['user-3', 'user-4', 'user-5'], ['user-6']]);
    });

    it('answers next null when the last page is exactly full, and an empty list for an unknown group', async function () {
      for (const user of ['a', 'b']) await api.call('PUT', member('exact', user), undefined, crm);
      expect((await api.call('GET', members('exact', '?limit=2'), undefined, crm)).body).to.deep.equal({ members: ['a', 'b'], next: null });
      expect((await api.call('GET', members('exact', '?after=&limit=1'), undefined, crm)).body).to.deep.equal({ members: ['a'], next: 'a' });
      expect((await api.call('GET', members('nobody-here'), undefined, crm)).body).to.deep.equal({ members: [], next: null });
    });
  });
});
