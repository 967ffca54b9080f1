import { createECDH, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { Queue } from 'bullmq';
import { expect } from 'chai';
import fc from 'fast-check';
import { Pool } from 'undici';
import { API_ROUTES, type ApiRoute } from '../../services/subscription-api/api-routes.js';
import { QUEUE_NAMES } from '../../shared/topics/index.js';
import { deepInData, nesting, oddText, withBadBytes, wrongValue } from '../support/garbage.js';
import { startTestApi, type TestApi } from '../support/test-api.js';
import { userToken } from '../support/tokens.js';

const SERVICE_KEY = 'crm-service-key-0123456789';
const ADMIN_KEY = 'crm-admin-key-0123456789abcdef';
const apiKeys = [
  { name: 'crm-app', key: SERVICE_KEY, packages: ['crm'], admin: false, router: false },
  { name: 'crm-admin', key: ADMIN_KEY, packages: ['crm'], admin: true, router: false },
];

const base64url = (bytes: Buffer) => bytes.toString('base64url');
const P256DH = base64url(createECDH('prime256v1').generateKeys());
const AUTH_SECRET = base64url(randomBytes(16));

/** A body each route accepts (or refuses only for who sends it): what the mutations start from. */
function validBody(route: ApiRoute): Record<string, unknown> {
  const key = `${route.method.toUpperCase()} ${route.path}`;
  switch (key) {
    case 'POST /v1/subscriptions':
      return { package: 'crm', endpoint: 'https://fcm.googleapis.com/fcm/send/fuzz', keys: { p256dh: P256DH, auth: AUTH_SECRET } };
    case 'DELETE /v1/subscriptions':
    case 'POST /v1/subscriptions/test':
      return { package: 'crm', endpoint: 'https://fcm.googleapis.com/fcm/send/never-subscribed' };
    case 'POST /v1/notifications':
      return { package: 'crm', target: { user: 'alice' }, title: 'Invoice paid', data: { invoice: 42 } };
    case 'POST /v1/inbox/seen':
      return { package: 'crm', ids: ['1'] };
    case 'POST /demo/session':
      return { user: 'demo-user' };
    case 'POST /demo/notifications':
      return { to: 'me', title: 'Hello' };
    default:
      return {};
  }
}

/** Raw bytes of a request body, from almost right to nothing like JSON. */
function bodyFor(route: ApiRoute): fc.Arbitrary<Buffer | undefined> {
  const valid = validBody(route);
  const fields = Object.keys(valid);
  const json = (value: unknown) => Buffer.from(JSON.stringify(value));
  return fc.oneof(
    fc.constant(undefined),
    fc.constant(json(valid)),
    // One field with a wrong value, or left out, or an unknown one added.
    fc.record({ field: fields.length ? fc.constantFrom(...fields, 'unknownField') : fc.constant('x'), value: wrongValue, drop: fc.boolean() })
      .map(({ field, value, drop }) => {
        const copy: Record<string, unknown> = { ...valid };
        if (drop) delete copy[field];
        else copy[field] = value;
        return json(copy);
      }),
    fc.jsonValue({ maxDepth: 4 }).map(json),
    // Deep nesting, at the top and inside `data`.
    fc.integer({ min: 20, max: 20_000 }).map((depth) => Buffer.from(nesting(depth, '1'))),
    fc.integer({ min: 20, max: 20_000 }).map((depth) => deepInData(valid, depth)),
    withBadBytes(JSON.stringify({ ...valid, title: '@' })),
    fc.uint8Array({ maxLength: 2_000 }).map((bytes) => Buffer.from(bytes)),
    fc.nat().map((cut) => {
      const text = JSON.stringify(valid);
      return Buffer.from(text.slice(0, cut % Math.max(1, text.length)));
    }),
  );
}

/** Every byte of the UTF-8 percent-encoded but unreserved ones (lone surrogates become U+FFFD). */
const percentEncoded = (text: string) =>
  [...Buffer.from(text, 'utf8')].map((b) => (/[A-Za-z0-9._~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`)).join('');

const pathSegment = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._@-]{1,20}$/),
  oddText.map(percentEncoded),
  fc.integer({ min: 129, max: 6_000 }).map((n) => 'a'.repeat(n)),
  fc.constantFrom('%', '%zz', '%E0%A4%A', '%00', '%2F', '..', '%2e%2e', '%C0%AF'),
);

const queryPart = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom('package', 'user', 'after', 'limit', 'state', 'before'), oddText.map(percentEncoded)),
      fc.oneof(fc.constantFrom('crm', '0', '-1', '1001', '1e3', '', 'alice'), oddText.map(percentEncoded), fc.constant('%')),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}` : ''));

const contentTypes = fc.constantFrom(
  undefined,
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON; CHARSET=UTF-8',
  'application/json; charset=utf-16le',
  'application/json; charset=latin1',
  'application/json; charset=x-unknown',
  'application/json; charset',
  'application/merge-patch+json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  ';;',
);

const RIGHT_CALLER = { none: 'none', user: 'user', service: 'service', admin: 'admin' } as const;
const credentials = ['none', 'user', 'other-package-user', 'service', 'admin', 'expired', 'garbage', 'huge', 'cookie', 'cookie-garbage'] as const;

describe('bad input on every HTTP route (fast-check; MariaDB, Redis)', function () {
  this.timeout(120_000);
  let api: TestApi;
  let pool: Pool;
  let queues: Queue[];
  let headersFor: Record<(typeof credentials)[number], Record<string, string>>;

  before(async function () {
    api = await startTestApi({
      database: 'mysql',
      apiKeys,
      demo: true,
      // High enough never to refuse here: the limiter is still on every request's path.
      rateLimits: { userPerMinute: 1_000_000, servicePerMinute: 1_000_000, ipPerMinute: 1_000_000 },
    });
    pool = new Pool(api.base, { connections: 1 });
    queues = Object.values(QUEUE_NAMES).map((name) => new Queue(name, { connection: api.redis, prefix: api.prefix }));
    const alice = await userToken('alice', ['crm', 'demo']);
    headersFor = {
      none: {},
      user: { authorization: `Bearer ${alice}` },
      'other-package-user': { authorization: `Bearer ${await userToken('bob', ['billing'])}` },
      service: { 'x-api-key': SERVICE_KEY },
      admin: { authorization: `Bearer ${ADMIN_KEY}` },
      expired: { authorization: `Bearer ${await userToken('alice', ['crm'], { expiresIn: Math.floor(Date.now() / 1000) - 60 })}` },
      garbage: { authorization: 'Bearer \u00ff\u00fe not a token' },
      huge: { authorization: `Bearer ${'A'.repeat(12_000)}` },
      cookie: { cookie: `access_token=${alice}` },
      'cookie-garbage': { cookie: 'access_token=%E0%A4%A; =; ;;' },
    };
  });

  after(async function () {
    await Promise.all(queues?.map((q) => q.close()) ?? []);
    await pool?.close();
    await api?.close();
  });

  /** What the API has stored: rows of every table a request can add to, and queued jobs. */
  async function stored(): Promise<Record<string, number>> {
    const count = async (sql: string) => Number(((await api.dataSource.query(sql)) as { n: unknown }[])[0]!.n);
    const jobs = await Promise.all(queues.map((q) => q.getJobCounts()));
    return {
      subscriptions: await count('SELECT COUNT(*) AS n FROM push_subscription'),
      activeSubscriptions: await count("SELECT COUNT(*) AS n FROM push_subscription WHERE active = 'Y'"),
      notifications: await count('SELECT COUNT(*) AS n FROM notification'),
      groupMembers: await count('SELECT COUNT(*) AS n FROM group_member'),
      jobs: jobs.reduce((sum, counts) => sum + Object.values(counts).reduce((a, b) => a + b, 0), 0),
    };
  }

  const requests = fc
    .constantFrom(...API_ROUTES.filter((r) => r.only !== 'metrics' && r.only !== 'board'))
    .chain((route) =>
      fc.record({
        route: fc.constant(route),
        segments: fc.array(fc.oneof(fc.constantFrom('crm', 'alice', 'sales'), pathSegment), { minLength: 4, maxLength: 4 }),
        query: queryPart,
        // Mostly the route's own kind of caller and JSON, so most requests get past the door.
        credentials: fc.oneof(
          { arbitrary: fc.constant(RIGHT_CALLER[route.auth]), weight: 3 },
          { arbitrary: fc.constantFrom(...credentials), weight: 2 },
        ),
        contentType: fc.oneof({ arbitrary: fc.constant('application/json'), weight: 3 }, { arbitrary: contentTypes, weight: 2 }),
        contentEncoding: fc.constantFrom(undefined, undefined, undefined, 'gzip', 'deflate', 'x-unknown'),
        gzipped: fc.boolean(),
        body: bodyFor(route),
      }),
    );

  it('answers every malformed request below 500 with the error shape, and stores nothing for a refused one', async function () {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requests, async (r) => {
        let index = 0;
        const path = r.route.path.replace(/:[A-Za-z]+/g, () => r.segments[index++]!) + r.query;
        const headers: Record<string, string> = { ...headersFor[r.credentials] };
        if (r.contentType !== undefined) headers['content-type'] = r.contentType;
        let body = r.body;
        if (r.contentEncoding !== undefined && body !== undefined) {
          headers['content-encoding'] = r.contentEncoding;
          if (r.contentEncoding === 'gzip' && r.gzipped) body = gzipSync(body);
        }
        const before = await stored();
        const res = await pool.request({ path, method: r.route.method.toUpperCase() as 'GET', headers, body });
        const text = await res.body.text();
        seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1);

        expect(res.statusCode, `${r.route.method} ${path}: ${text.slice(0, 200)}`).to.be.below(500);
        if (res.statusCode >= 400 && res.statusCode !== 431) {
          const answer = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
          expect(answer.error?.code).to.be.a('string');
          expect(answer.error?.message).to.be.a('string');
          expect(text).not.to.match(/\bat .+\.(ts|js):\d+/);
          expect(await stored(), `${r.route.method} ${path} stored something: ${res.statusCode}`).to.deep.equal(before);
        }
      }),
      { numRuns: 400 },
    );

    // The run got past the door too: refusals for the body, the caller and the media type.
    for (const status of [400, 401, 415]) expect(seen.get(status) ?? 0, `answers ${status}`).to.be.greaterThan(0);
    expect((await pool.request({ path: '/healthz', method: 'GET' })).statusCode).to.equal(200);
  });

  it('answers 413 for a body over the limit, 400 for nesting deeper than 32 levels, 415 for another media type or charset', async function () {
    const send = async (body: string | Buffer, contentType = 'application/json') => {
      const res = await pool.request({
        path: '/v1/notifications',
        method: 'POST',
        headers: { 'x-api-key': SERVICE_KEY, 'content-type': contentType },
        body,
      });
      return { status: res.statusCode, body: (await res.body.json()) as { error: { code: string } } };
    };
    const event = { package: 'crm', target: { user: 'alice' }, title: 'Hi' };
    // The body, `data` and 30 arrays: 32 levels, the most that is taken.
    expect((await send(JSON.stringify({ ...event, data: { x: JSON.parse(nesting(30, '1')) } }))).status).to.equal(202);
    const before = await stored();

    expect(await send(JSON.stringify({ ...event, body: 'x'.repeat(70_000) }))).to.deep.include({ status: 413 });
    const deep = await send(JSON.stringify({ ...event, data: { x: JSON.parse(nesting(31, '1')) } }));
    expect(deep.status).to.equal(400);
    expect(deep.body.error.code).to.equal('too_deep');
    const bad = await send(Buffer.concat([Buffer.from('{"package":"crm","target":{"user":"alice"},"title":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]));
    expect(bad).to.deep.include({ status: 400 });
    expect(bad.body.error.code).to.equal('invalid_utf8');
    expect((await send(JSON.stringify(event), 'text/plain')).body.error.code).to.equal('unsupported_media_type');
    expect((await send(JSON.stringify(event), 'application/json; charset=utf-16le')).status).to.equal(415);
    expect(await stored()).to.deep.equal(before);
  });
});
