import { expect } from 'chai';
import {
  DEFAULT_PUSH_HOSTS,
  MAX_ENDPOINT_LENGTH,
  checkEndpoint,
  endpointProblem,
  hostAllowed,
  type EndpointPolicy,
} from '../../shared/push-endpoints/index.js';

const strict: EndpointPolicy = { allowedHosts: DEFAULT_PUSH_HOSTS, allowInsecureLoopback: false };
const withLoopback: EndpointPolicy = { ...strict, allowInsecureLoopback: true };

describe('hostAllowed', () => {
  it('matches an entry itself and its subdomains', () => {
    expect(hostAllowed('notify.windows.com', ['notify.windows.com'])).to.equal(true);
    expect(hostAllowed('wns2-by3p.notify.windows.com', ['notify.windows.com'])).to.equal(true);
  });

  it('does not match a host that merely ends with the same characters', () => {
    expect(hostAllowed('evilfcm.googleapis.com', ['fcm.googleapis.com'])).to.equal(false);
  });

  it('does not match a parent domain of an entry', () => {
    expect(hostAllowed('googleapis.com', ['fcm.googleapis.com'])).to.equal(false);
  });

  it('matches nothing when the list is empty', () => {
    expect(hostAllowed('fcm.googleapis.com', [])).to.equal(false);
  });
});

describe('endpointProblem', () => {
  it('refuses forms a browser never gives, even when they lead to a push service', () => {
    for (const endpoint of ['https://FCM.googleapis.com:443/fcm/send/abc', 'https://fcm.googleapis.com\\@evil.example/', 'https:fcm.googleapis.com/x']) {
      expect(endpointProblem(endpoint, strict), endpoint).to.match(/canonical/);
    }
  });

  const realEndpoints = [
    'https://fcm.googleapis.com/fcm/send/abc',
    'https://updates.push.services.mozilla.com/wpush/v2/abc',
    'https://web.push.apple.com/abc',
    'https://wns2-by3p.notify.windows.com/w/?token=abc',
  ];
  for (const endpoint of realEndpoints) {
    it(`accepts ${endpoint}`, () => {
      expect(endpointProblem(endpoint, strict)).to.equal(null);
    });
  }

  const rejected: Array<[string, string]> = [
    ['plain http', 'http://fcm.googleapis.com/fcm/send/abc'],
    ['another port', 'https://fcm.googleapis.com:8443/fcm/send/abc'],
    ['user info', 'https://user:pass@fcm.googleapis.com/fcm/send/abc'],
    ['a user name alone', 'https://attacker@fcm.googleapis.com/fcm/send/abc'],
    ['a fragment', 'https://fcm.googleapis.com/fcm/send/abc#x'],
    ['the allowed host in the path', 'https://evil.example/fcm.googleapis.com/'],
    ['the allowed host as a prefix', 'https://fcm.googleapis.com.evil.example/'],
    ['a host that only ends with the same characters', 'https://evilfcm.googleapis.com/'],
    ['the allowed host in the query', 'https://evil.example/?host=fcm.googleapis.com'],
    ['not a URL', 'not a url'],
    ['a relative path', '/fcm/send/abc'],
    ['another scheme', 'ftp://fcm.googleapis.com/abc'],
    ['a loopback endpoint by default', 'http://127.0.0.1:8080/push/abc'],
    ['a localhost https endpoint by default', 'https://localhost/push/abc'],
  ];
  for (const [what, endpoint] of rejected) {
    it(`rejects ${what}: ${endpoint}`, () => {
      expect(endpointProblem(endpoint, strict)).to.be.a('string');
    });
  }

  it('names the host and the setting when the host is not a known push service', () => {
    expect(endpointProblem('https://evil.example/x', strict))
      .to.include('evil.example')
      .and.to.include('PUSH_ENDPOINT_ALLOWLIST');
  });

  it('accepts an endpoint of exactly the maximum length and rejects one longer', () => {
    const base = 'https://fcm.googleapis.com/fcm/send/';
    const longest = base + 'a'.repeat(MAX_ENDPOINT_LENGTH - base.length);

    expect(endpointProblem(longest, strict)).to.equal(null);
    expect(endpointProblem(`${longest}a`, strict)).to.match(/longer than 2048/);
  });

  it('allows http and https on loopback only when allowInsecureLoopback is true', () => {
    const loopback = [
      'http://localhost:8080/push/abc',
      'http://127.0.0.1:9999/push/abc',
      'http://127.1.2.3/push/abc',
      'http://[::1]:8080/push/abc',
      'https://localhost:8443/push/abc',
    ];
    for (const endpoint of loopback) {
      expect(endpointProblem(endpoint, withLoopback), endpoint).to.equal(null);
      expect(endpointProblem(endpoint, strict), endpoint).to.be.a('string');
    }
  });

  it('still rejects hosts that only look like loopback when allowInsecureLoopback is true', () => {
    const lookalikes = [
      'http://127.0.0.1.evil.example/push',
      'http://localhost.evil.example/push',
      'http://evil.example/127.0.0.1',
    ];
    for (const endpoint of lookalikes) {
      expect(endpointProblem(endpoint, withLoopback), endpoint).to.be.a('string');
    }
  });

  it('still rejects user info and non-http schemes on loopback', () => {
    expect(endpointProblem('http://u:p@localhost:8080/push', withLoopback)).to.be.a('string');
    expect(endpointProblem('ws://localhost:8080/push', withLoopback)).to.be.a('string');
  });

  it('checks hosts against a custom allowlist instead of the defaults', () => {
    const policy: EndpointPolicy = {
      allowedHosts: ['push.example.com'],
      allowInsecureLoopback: false,
    };

    expect(endpointProblem('https://eu.push.example.com/abc', policy)).to.equal(null);
    expect(endpointProblem('https://fcm.googleapis.com/fcm/send/abc', policy)).to.be.a('string');
  });
});

describe('checkEndpoint', () => {
  it('gives the parsed URL of an allowed endpoint, with no problem', () => {
    const check = checkEndpoint('https://fcm.googleapis.com/fcm/send/abc', strict);
    expect(check.problem).to.equal(null);
    expect(check.url?.origin).to.equal('https://fcm.googleapis.com');
  });

  it('gives the same problem as endpointProblem, with the URL when it parses', () => {
    const foreign = checkEndpoint('https://push.attacker.example/x', strict);
    expect(foreign.problem).to.equal(endpointProblem('https://push.attacker.example/x', strict));
    expect(foreign.url?.host).to.equal('push.attacker.example');
    expect(checkEndpoint('not a url', strict)).to.deep.equal({ url: null, problem: 'not a URL' });
  });
});
