import { expect } from 'chai';
import { startAuthServices, startJwksServer, startLocalServer, type AuthServices, type LocalServer } from '../support/auth-services.js';
import {
  createSigningKey,
  REFUSAL_RULES,
  refusedTokens,
  signToken,
  TEST_JWT_SECRET,
  type SigningKey,
} from '../support/tokens.js';

/** MQTT 3.1.1 §3.2.2.3 CONNACK return codes. */
const SERVER_UNAVAILABLE = 3;
const BAD_USERNAME_OR_PASSWORD = 4;
const OTHER_SECRET = 'another-secret-that-is-long-enough-0123456789';
const PAGE = { origin: 'http://localhost:3000' };
const CLAIMS = { sub: 'alice', packages: ['crm'] };

/** How a user presents a token, and what each answers when it is accepted or refused. */
function channels(services: AuthServices, token: string) {
  return {
    apiBearer: () => services.apiStatus({ authorization: `Bearer ${token}` }).then((a) => a.status),
    apiCookie: () => services.apiStatus({ cookie: `theme=dark; access_token=${token}` }).then((a) => a.status),
    mqttPassword: () => services.connack({ username: 'alice', password: token }),
    mqttCookie: () => services.connack({ wsOptions: { headers: { ...PAGE, cookie: `access_token=${token}` } } }, 'ws'),
  };
}

async function answers(services: AuthServices, token: string): Promise<Record<string, number>> {
  const c = channels(services, token);
  return {
    apiBearer: await c.apiBearer(),
    apiCookie: await c.apiCookie(),
    mqttPassword: await c.mqttPassword(),
    mqttCookie: await c.mqttCookie(),
  };
}

/**
 * One test per refusal rule: a token breaking it is refused on every channel. `keys` gives the
 * signing key and another key (for the wrong signature).
 */
function itRefusesEachBadToken(
  services: () => AuthServices,
  keys: () => Promise<[SigningKey | string, SigningKey | string]>,
): void {
  let tokens: Awaited<ReturnType<typeof refusedTokens>>;
  before(async function () {
    tokens = await refusedTokens(...(await keys()), 'alice', ['crm']);
  });
  for (const rule of REFUSAL_RULES) {
    it(`a token with ${rule}: 401 on the API, CONNACK 4 on the broker`, async function () {
      expect(await answers(services(), tokens[rule])).to.deep.equal(REFUSED);
    });
  }
}

const ACCEPTED = { apiBearer: 200, apiCookie: 200, mqttPassword: 0, mqttCookie: 0 };
const REFUSED = { apiBearer: 401, apiCookie: 401, mqttPassword: BAD_USERNAME_OR_PASSWORD, mqttCookie: BAD_USERNAME_OR_PASSWORD };

describe('user JWTs on the API and the broker', function () {
  this.timeout(20_000);

  describe('with an HS256 secret (AUTH_JWT_SECRET)', function () {
    let services: AuthServices;
    before(async function () {
      services = await startAuthServices({ jwtSecret: TEST_JWT_SECRET, apiKeys: [] });
    });
    after(async function () {
      await services?.close();
    });

    it('accepts the token as Bearer and as the access_token cookie, on the API and the broker', async function () {
      expect(await answers(services, await signToken(TEST_JWT_SECRET, CLAIMS))).to.deep.equal(ACCEPTED);
    });

    it("does not use the cookie of a request sent by another site's page", async function () {
      const token = await signToken(TEST_JWT_SECRET, CLAIMS);
      const answer = await services.apiStatus({ origin: 'https://evil.example', cookie: `access_token=${token}` });
      expect(answer.status).to.equal(401);
    });

    it('takes a token it verified before as verified only until its exp', async function () {
      const exp = Math.floor(Date.now() / 1000) + 2;
      const token = await signToken(TEST_JWT_SECRET, { ...CLAIMS, exp });
      const bearer = channels(services, token).apiBearer;
      expect(await bearer()).to.equal(200);
      expect(await bearer(), 'from the cache of verified tokens').to.equal(200);
      await new Promise((resolve) => setTimeout(resolve, exp * 1000 - Date.now() + 50));
      expect(await bearer(), 'past exp').to.equal(401);
    });

    it('refuses a valid token for another user name on the broker', async function () {
      const token = await signToken(TEST_JWT_SECRET, CLAIMS);
      expect(await services.connack({ username: 'bob', password: token })).to.equal(BAD_USERNAME_OR_PASSWORD);
    });

    describe('refuses', function () {
      itRefusesEachBadToken(() => services, async () => [TEST_JWT_SECRET, OTHER_SECRET]);
    });
  });

  describe('with a JWKS (AUTH_JWKS_URL, ES256 and RS256)', function () {
    let services: AuthServices;
    let jwks: LocalServer;
    const served: SigningKey['publicJwk'][] = [];
    const keys: Record<string, SigningKey> = {};

    before(async function () {
      keys['ES256'] = await createSigningKey('ES256', 'es-1');
      keys['RS256'] = await createSigningKey('RS256', 'rs-1');
      served.push(keys['ES256'].publicJwk, keys['RS256'].publicJwk);
      jwks = await startJwksServer(served);
      services = await startAuthServices({
        jwtSecret: undefined,
        jwksUrl: `${jwks.url}/.well-known/jwks.json`,
        jwksCooldownMs: 200,
        apiKeys: [],
      });
    });
    after(async function () {
      await services?.close();
      await jwks?.close();
    });

    for (const alg of ['ES256', 'RS256']) {
      it(`accepts an ${alg} token signed with a key of the JWKS, as Bearer and cookie, on the API and the broker`, async function () {
        expect(await answers(services, await signToken(keys[alg]!, CLAIMS))).to.deep.equal(ACCEPTED);
      });
    }

    it('fetches the JWKS once and verifies known keys from its cache', async function () {
      const before = jwks.requests.length;
      await answers(services, await signToken(keys['ES256']!, CLAIMS));
      await answers(services, await signToken(keys['RS256']!, CLAIMS));
      expect(jwks.requests.length).to.equal(before);
    });

    it('picks up a rotated key (a new kid) by fetching the JWKS again', async function () {
      const rotated = await createSigningKey('ES256', 'es-2');
      served.push(rotated.publicJwk);
      await new Promise((r) => setTimeout(r, 300)); // past the cooldown between fetches
      const before = jwks.requests.length;
      expect(await answers(services, await signToken(rotated, CLAIMS))).to.deep.equal(ACCEPTED);
      expect(jwks.requests.length).to.be.greaterThan(before);
    });

    it('refuses a token whose kid the JWKS does not hold', async function () {
      const unknown = await createSigningKey('ES256', 'never-published');
      expect(await answers(services, await signToken(unknown, CLAIMS))).to.deep.equal(REFUSED);
    });

    it('refuses an HS256 token when no secret is configured', async function () {
      expect(await answers(services, await signToken(TEST_JWT_SECRET, CLAIMS))).to.deep.equal(REFUSED);
    });

    for (const alg of ['ES256', 'RS256'] as const) {
      describe(`refuses (${alg})`, function () {
        // Same kid, another key: the signature is what fails, not the key lookup.
        itRefusesEachBadToken(() => services, async () => [keys[alg]!, await createSigningKey(alg, keys[alg]!.kid)]);
      });
    }
  });

  describe('with a packages claim of its own, an issuer and an audience', function () {
    let services: AuthServices;
    before(async function () {
      services = await startAuthServices({
        jwtSecret: TEST_JWT_SECRET,
        packagesClaim: 'https://axion.example/packages',
        issuer: 'https://id.example',
        audience: 'axion-push',
        apiKeys: [],
      });
    });
    after(async function () {
      await services?.close();
    });
    const claims = { sub: 'alice', 'https://axion.example/packages': ['crm'], iss: 'https://id.example', aud: 'axion-push' };

    it('accepts a token that carries them', async function () {
      expect(await answers(services, await signToken(TEST_JWT_SECRET, claims))).to.deep.equal(ACCEPTED);
    });

    it('refuses a token of another issuer or audience, or with packages under the default claim', async function () {
      for (const other of [{ iss: 'https://other.example' }, { aud: 'another-app' }]) {
        expect(await answers(services, await signToken(TEST_JWT_SECRET, { ...claims, ...other }))).to.deep.equal(REFUSED);
      }
      const plain = await signToken(TEST_JWT_SECRET, { sub: 'alice', packages: ['crm'], iss: claims.iss, aud: claims.aud });
      expect(await answers(services, plain)).to.deep.equal(REFUSED);
    });
  });

  describe('with a JWKS that does not answer', function () {
    let services: AuthServices;
    let silent: LocalServer;
    before(async function () {
      silent = await startLocalServer(() => new Promise(() => {}));
      services = await startAuthServices({ jwtSecret: undefined, jwksUrl: silent.url, jwksTimeoutMs: 300, apiKeys: [] });
    });
    after(async function () {
      await services?.close();
      await silent?.close();
    });

    it('answers 503 with Retry-After on the API and CONNACK 3 on the broker, and keeps serving', async function () {
      const token = await signToken(await createSigningKey('ES256', 'k'), CLAIMS);
      const answer = await services.apiStatus({ authorization: `Bearer ${token}` });
      expect(answer.status).to.equal(503);
      expect(Number(answer.retryAfter)).to.be.greaterThan(0);
      expect(await services.connack({ username: 'alice', password: token })).to.equal(SERVER_UNAVAILABLE);
      expect((await services.apiStatus({})).status).to.equal(401);
    });
  });
});
