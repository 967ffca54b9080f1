import { expect } from 'chai';
import { accessTokenCookie, bearerToken } from '../../shared/auth/index.js';
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
