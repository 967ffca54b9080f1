import { expect } from 'chai';
import { accessTokenCookie, bearerToken, createAuthenticator } from '../../shared/auth/index.js';
import { userCredentials } from '../../services/subscription-api/user-credentials.js';

describe('accessTokenCookie', () => {
  it('finds the access_token among other cookies and decodes it', () => {
    expect(accessTokenCookie('theme=dark; access_token=a%2Eb.c; x=1')).to.equal('a.b.c');
  });

  it('gives nothing for no header, no such cookie, an empty one or bad percent-encoding', () => {
    for (const header of [undefined, 'theme=dark', 'access_token=', 'access_token=%E0%A4%A']) {
      expect(accessTokenCookie(header), String(header)).to.equal(undefined);
    }
  });
});

describe('bearerToken', () => {
  it('reads the token of a Bearer header, whatever the case of the scheme', () => {
    expect(bearerToken('bearer abc.def')).to.equal('abc.def');
    expect(bearerToken('Basic abc')).to.equal(undefined);
    expect(bearerToken(undefined)).to.equal(undefined);
  });
});

describe('userCredentials (subscription-api)', () => {
  const cookie = 'access_token=t';

  it('keeps the cookie of a request with no Origin or from its own origin', () => {
    expect(userCredentials({ cookie, host: 'push.example.com' }).cookie).to.equal(cookie);
    expect(userCredentials({ cookie, host: 'push.example.com', origin: 'https://push.example.com' }).cookie).to.equal(cookie);
  });

  it("drops the cookie of a request another site's page sent, and keeps its Authorization", () => {
    const credentials = userCredentials({ cookie, host: 'push.example.com', origin: 'https://evil.example', authorization: 'Bearer x' });
    expect(credentials).to.deep.equal({ authorization: 'Bearer x', cookie: undefined });
    expect(userCredentials({ cookie, host: 'push.example.com', origin: 'null' }).cookie).to.equal(undefined);
  });
});

describe('createAuthenticator: finding a service by its API key', function () {
  const key = (name: string, value: string) => ({ name, key: value, packages: ['crm'], admin: false, router: false });

  it('finds a key shaped like a JWT when one is configured, and tells a JWT-shaped stranger apart', function () {
    const auth = createAuthenticator({ jwtSecret: 'x'.repeat(32), apiKeys: [key('plain', 'plain-key-0123456789'), key('dotted', 'aaaa.bbbb.cccc')] });
    expect(auth.findService('aaaa.bbbb.cccc')?.name).to.equal('dotted');
    expect(auth.findService('plain-key-0123456789')?.name).to.equal('plain');
    expect(auth.findService('aaaa.bbbb.cccd')).to.equal(undefined);
  });

  it('answers that a JWT-shaped token is no key when no key has that shape', function () {
    const auth = createAuthenticator({ jwtSecret: 'x'.repeat(32), apiKeys: [key('plain', 'plain-key-0123456789')] });
    expect(auth.findService('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln')).to.equal(undefined);
    expect(auth.findService('plain-key-0123456789')?.name).to.equal('plain');
  });
});
