import { expect } from 'chai';
import { loadConfig, requireUserAuth } from '../../shared/config/index.js';
import { ConfigError } from '../../shared/errors/index.js';

describe('loadConfig: user authentication settings', () => {
  it('leaves the JWKS and the webhook off, with their defaults ready', () => {
    const { auth } = loadConfig({});

    expect(auth.jwksUrl).to.equal(undefined);
    expect(auth.webhook).to.equal(undefined);
    expect(auth.packagesClaim).to.equal('packages');
    expect(auth.jwksTimeoutMs).to.equal(5_000);
  });

  it('reads the JWKS URL, claim name, issuer and audience', () => {
    const { auth } = loadConfig({
      AUTH_JWKS_URL: 'https://id.example.com/.well-known/jwks.json',
      AUTH_JWKS_TIMEOUT_MS: '2000',
      AUTH_JWT_PACKAGES_CLAIM: 'https://axion/packages',
      AUTH_JWT_ISSUER: 'https://id.example.com/',
      AUTH_JWT_AUDIENCE: 'axion-push',
    });

    expect(auth).to.include({
      jwksUrl: 'https://id.example.com/.well-known/jwks.json',
      jwksTimeoutMs: 2_000,
      packagesClaim: 'https://axion/packages',
      issuer: 'https://id.example.com/',
      audience: 'axion-push',
    });
  });

  it('reads the webhook with a 3 s deadline and a 30 s cache unless told otherwise', () => {
    expect(loadConfig({ AUTH_WEBHOOK_URL: 'http://app:8080/auth' }).auth.webhook).to.deep.equal({
      url: 'http://app:8080/auth', timeoutMs: 3_000, cacheMs: 30_000,
    });
    const tuned = loadConfig({ AUTH_WEBHOOK_URL: 'https://app/auth', AUTH_WEBHOOK_TIMEOUT_MS: '500', AUTH_WEBHOOK_CACHE_SECONDS: '0' });
    expect(tuned.auth.webhook).to.deep.equal({ url: 'https://app/auth', timeoutMs: 500, cacheMs: 0 });
  });

  it('names each bad variable', () => {
    const bad = { AUTH_JWKS_URL: 'ftp://x', AUTH_WEBHOOK_URL: 'not a url', AUTH_WEBHOOK_TIMEOUT_MS: '5' };
    expect(() => loadConfig(bad))
      .to.throw(ConfigError)
      .with.property('message')
      .that.matches(/AUTH_JWKS_URL/)
      .and.matches(/AUTH_WEBHOOK_URL/)
      .and.matches(/AUTH_WEBHOOK_TIMEOUT_MS/);
  });
});

describe('requireUserAuth', () => {
  it('accepts any one way for users to sign in', () => {
    for (const env of [{ AUTH_JWT_SECRET: 'x'.repeat(32) }, { AUTH_JWKS_URL: 'https://id/jwks' }, { AUTH_WEBHOOK_URL: 'http://app/auth' }]) {
      expect(() => requireUserAuth(loadConfig(env).auth, 'why')).not.to.throw();
    }
  });

  it('fails naming the three variables when none is set', () => {
    expect(() => requireUserAuth(loadConfig({}).auth, 'users sign in'))
      .to.throw(ConfigError, /AUTH_JWT_SECRET, AUTH_JWKS_URL or AUTH_WEBHOOK_URL.*users sign in/);
  });
});
