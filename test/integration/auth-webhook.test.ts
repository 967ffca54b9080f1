import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { expect } from 'chai';
import { createAuthenticator } from '../../shared/auth/index.js';
import { UnauthenticatedError } from '../../shared/errors/index.js';
import { startAuthServices, startLocalServer, type AuthServices, type LocalServer } from '../support/auth-services.js';
import { REFUSAL_RULES, refusedTokens, signToken, TEST_JWT_SECRET } from '../support/tokens.js';

/** MQTT 3.1.1 §3.2.2.3 CONNACK return codes. */
const SERVER_UNAVAILABLE = 3;
const BAD_USERNAME_OR_PASSWORD = 4;
const PAGE = { origin: 'http://localhost:3000' };
const OTHER_SECRET = 'another-secret-that-is-long-enough-0123456789';

/**
 * The application's auth webhook: knows the sessions in `sessions` (by Authorization header or
 * by `session` cookie), never answers for `Bearer slow`, fails for `Bearer broken…`.
 */
function appWebhook(sessions: Map<string, string>) {
  return async (headers: IncomingHttpHeaders) => {
    if (headers.authorization === 'Bearer slow') return new Promise<never>(() => {});
    if (headers.authorization?.startsWith('Bearer broken')) return { status: 500, body: { error: 'boom' } };
    const cookieSession = /(?:^|;\s*)session=([^;]+)/.exec(headers.cookie ?? '')?.[1];
    const user = sessions.get(headers.authorization ?? '') ?? sessions.get(`cookie:${cookieSession}`);
    return user ? { status: 200, body: { userId: user, packages: ['crm'] } } : { status: 401 };
  };
}

describe('the auth webhook (AUTH_WEBHOOK_URL) on the API and the broker', function () {
  this.timeout(20_000);
  const sessions = new Map<string, string>();
  let webhook: LocalServer;
  let services: AuthServices;
  /** A session the app knows for `user`, presented as `Authorization: Bearer <token>`. */
  const session = (user: string) => {
    const token = `app-session-${randomUUID()}`;
    sessions.set(`Bearer ${token}`, user);
    return token;
  };
  const callsWith = (part: string) => webhook.requests.filter((h) => `${h.authorization} ${h.cookie}`.includes(part)).length;

  before(async function () {
    webhook = await startLocalServer(appWebhook(sessions));
    services = await startAuthServices({
      jwtSecret: TEST_JWT_SECRET,
      webhook: { url: `${webhook.url}/auth/check`, timeoutMs: 400, cacheMs: 30_000 },
      apiKeys: [],
    }, {
      // On, as in production: the limiter signs the caller in before the route does.
      rateLimits: { userPerMinute: 100_000, servicePerMinute: 100_000, ipPerMinute: 100_000 },
    });
  });
  after(async function () {
    await services?.close();
    await webhook?.close();
  });

  it("accepts the app's session token as Bearer on the API and as the MQTT password", async function () {
    const token = session('alice');
    expect((await services.apiStatus({ authorization: `Bearer ${token}` })).status).to.equal(200);
    expect(await services.connack({ username: 'alice', password: token })).to.equal(0);
    expect(webhook.requests.at(-1)?.authorization).to.equal(`Bearer ${token}`);
    // The session belongs to alice: another MQTT user name is refused.
    expect(await services.connack({ username: 'bob', password: token })).to.equal(BAD_USERNAME_OR_PASSWORD);
  });

  it("accepts the app's session cookie on the API and over WebSocket, forwarding the whole Cookie header", async function () {
    const id = randomUUID();
    sessions.set(`cookie:${id}`, 'alice');
    const cookie = `theme=dark; session=${id}`;
    expect((await services.apiStatus({ cookie })).status).to.equal(200);
    expect(await services.connack({ wsOptions: { headers: { ...PAGE, cookie } } }, 'ws')).to.equal(0);
    expect(webhook.requests.at(-1)?.cookie).to.equal(cookie);
  });

  it('asks once for the same credentials, also when asked by many at a time', async function () {
    const token = session('alice');
    const statuses = await Promise.all(
      Array.from({ length: 5 }, () => services.apiStatus({ authorization: `Bearer ${token}` })),
    );
    await services.apiStatus({ authorization: `Bearer ${token}` });
    expect(statuses.map((s) => s.status)).to.deep.equal([200, 200, 200, 200, 200]);
    expect(callsWith(token)).to.equal(1);
  });

  it("passes the webhook's 401 on: 401 on the API, CONNACK 4 on the broker", async function () {
    const unknown = `not-a-session-${randomUUID()}`;
    expect((await services.apiStatus({ authorization: `Bearer ${unknown}` })).status).to.equal(401);
    expect(await services.connack({ username: 'alice', password: unknown })).to.equal(BAD_USERNAME_OR_PASSWORD);
  });

  it('answers 503 with Retry-After and CONNACK 3 when the webhook does not answer in time, and keeps serving', async function () {
    const started = Date.now();
    const answer = await services.apiStatus({ authorization: 'Bearer slow' });
    expect(answer.status).to.equal(503);
    expect(Number(answer.retryAfter)).to.be.greaterThan(0);
    expect(Date.now() - started).to.be.lessThan(3_000);
    expect(await services.connack({ username: 'alice', password: 'slow' })).to.equal(SERVER_UNAVAILABLE);
    expect((await services.apiStatus({ authorization: `Bearer ${session('alice')}` })).status).to.equal(200);
  });

  it('answers 503 when the webhook fails, and asks again next time (failures are not cached)', async function () {
    expect((await services.apiStatus({ authorization: 'Bearer broken' })).status).to.equal(503);
    expect((await services.apiStatus({ authorization: 'Bearer broken' })).status).to.equal(503);
    expect(callsWith('Bearer broken')).to.equal(2);
  });

  it('asks once per request although the rate limits sign the caller in before the route', async function () {
    // Failures are not cached: each request's one check is one call.
    const broken = `broken-${randomUUID()}`;
    for (let i = 0; i < 3; i++) expect((await services.apiStatus({ authorization: `Bearer ${broken}` })).status).to.equal(503);
    expect(callsWith(broken)).to.equal(3);
  });

  it('never sends a service API key to the webhook as if it were a user token', async function () {
    const key = `svc-key-${randomUUID()}`;
    const auth = createAuthenticator({
      webhook: { url: `${webhook.url}/auth/check`, timeoutMs: 400, cacheMs: 30_000 },
      apiKeys: [{ name: 'svc', key, packages: ['crm'], admin: false, router: false }],
    });

    const refusal = await auth.user({ authorization: `Bearer ${key}` }).then(() => null, (err: Error) => err);

    expect(refusal).to.be.instanceOf(UnauthenticatedError);
    expect(callsWith(key)).to.equal(0);
  });

  it('accepts a valid JWT without asking the webhook', async function () {
    const token = await signToken(TEST_JWT_SECRET, { sub: 'alice', packages: ['crm'] });
    expect((await services.apiStatus({ authorization: `Bearer ${token}` })).status).to.equal(200);
    expect(callsWith(token)).to.equal(0);
  });

  describe('refuses, with the webhook behind the JWT check', function () {
    let tokens: Awaited<ReturnType<typeof refusedTokens>>;
    before(async function () {
      tokens = await refusedTokens(TEST_JWT_SECRET, OTHER_SECRET, 'alice', ['crm']);
    });
    for (const rule of REFUSAL_RULES) {
      it(`a token with ${rule}: 401 on the API (Bearer and cookie), CONNACK 4 on the broker`, async function () {
        const token = tokens[rule];
        expect((await services.apiStatus({ authorization: `Bearer ${token}` })).status).to.equal(401);
        expect((await services.apiStatus({ cookie: `access_token=${token}` })).status).to.equal(401);
        expect(await services.connack({ username: 'alice', password: token })).to.equal(BAD_USERNAME_OR_PASSWORD);
      });
    }

    it('does not ask the webhook about a token our key signed that is out of its time', async function () {
      expect(callsWith(tokens['a past exp'])).to.equal(0);
      expect(callsWith(tokens['a future nbf'])).to.equal(0);
    });
  });

  describe('when the webhook is down', function () {
    let down: AuthServices;
    before(async function () {
      const gone = await startLocalServer(async () => ({ status: 200 }));
      await gone.close();
      down = await startAuthServices({ jwtSecret: undefined, webhook: { url: gone.url, timeoutMs: 400, cacheMs: 30_000 }, apiKeys: [] });
    });
    after(async function () {
      await down?.close();
    });

    it('answers 503 with Retry-After on the API and CONNACK 3 on the broker, never a user', async function () {
      const answer = await down.apiStatus({ authorization: 'Bearer whatever', cookie: 'session=x' });
      expect(answer.status).to.equal(503);
      expect(Number(answer.retryAfter)).to.be.greaterThan(0);
      expect(await down.connack({ username: 'alice', password: 'whatever' })).to.equal(SERVER_UNAVAILABLE);
      expect((await down.apiStatus({})).status).to.equal(401);
    });
  });
});
