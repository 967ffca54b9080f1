import { resolve } from 'node:path';
import { expect } from 'chai';
import {
  formatApiKeys,
  loadConfig,
  parseApiKeys,
  requireSetting,
  type ApiKey,
} from '../../shared/config/index.js';
import { ConfigError } from '../../shared/errors/index.js';
import { DEFAULT_PUSH_HOSTS } from '../../shared/push-endpoints/index.js';

const KEY_A = 'a'.repeat(16);
const KEY_B = 'b'.repeat(24);

/** The ConfigError that `env` produces; fails the test when loading succeeds or throws else. */
function configErrorFor(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`expected loadConfig(${JSON.stringify(env)}) to throw`);
}

describe('loadConfig', () => {
  it('uses a SQLite file under DATA_DIR and the default ports, marked as not explicit', () => {
    const config = loadConfig({});

    expect(config.dataDir).to.equal(resolve('./data'));
    expect(config.database.url).to.equal(`sqlite:${resolve('./data', 'axion-push.sqlite')}`);
    expect(config.broker.tcp).to.deep.equal({ port: 1883, explicit: false });
    expect(config.broker.ws).to.deep.equal({ port: 8883, explicit: false });
    expect(config.http.port).to.deep.equal({ port: 3000, explicit: false });
    expect(config.redis.url).to.equal(undefined);
    expect(config.mqtt.topicRoot).to.equal('axion');
    expect(config.logLevel).to.equal('info');
    expect(config.auth.apiKeys).to.deep.equal([]);
    expect(config.push.endpointPolicy).to.deep.equal({
      allowedHosts: DEFAULT_PUSH_HOSTS,
      allowInsecureLoopback: false,
    });
  });

  it('puts the SQLite file under a DATA_DIR that is set', () => {
    const config = loadConfig({ DATA_DIR: '/srv/axion' });

    expect(config.dataDir).to.equal(resolve('/srv/axion'));
    expect(config.database.url).to.equal(`sqlite:${resolve('/srv/axion', 'axion-push.sqlite')}`);
  });

  it('bounds the CONNECT packet at 16 KiB unless MQTT_MAX_CONNECT_BYTES says otherwise', () => {
    expect(loadConfig({}).broker.limits?.maxConnectBytes).to.equal(16_384);
    expect(loadConfig({ MQTT_MAX_CONNECT_BYTES: '65536' }).broker.limits?.maxConnectBytes).to.equal(65_536);
    expect(() => loadConfig({ MQTT_MAX_CONNECT_BYTES: '100' })).to.throw(ConfigError, /MQTT_MAX_CONNECT_BYTES/);
  });

  it('reads MQTT_TRUSTED_PROXIES as a list of IP addresses', () => {
    expect(loadConfig({}).broker.trustedProxies).to.equal(undefined);
    expect(loadConfig({ MQTT_TRUSTED_PROXIES: '10.0.0.5, ::1' }).broker.trustedProxies).to.deep.equal(['10.0.0.5', '::1']);
    expect(() => loadConfig({ MQTT_TRUSTED_PROXIES: 'proxy.local' })).to.throw(ConfigError, /MQTT_TRUSTED_PROXIES/);
  });

  it('limits HTTP requests per user, API key and address by default, and takes 0 as no limit', () => {
    expect(loadConfig({}).http.rateLimits).to.deep.equal({ userPerMinute: 600, servicePerMinute: 12_000, ipPerMinute: 600 });
    const set = loadConfig({ RATE_LIMIT_USER_PER_MINUTE: '0', RATE_LIMIT_SERVICE_PER_MINUTE: '50', RATE_LIMIT_IP_PER_MINUTE: '7' });
    expect(set.http.rateLimits).to.deep.equal({ userPerMinute: 0, servicePerMinute: 50, ipPerMinute: 7 });
    expect(loadConfig({ HTTP_TRUSTED_PROXIES: '10.0.0.5,::1' }).http.trustedProxies).to.deep.equal(['10.0.0.5', '::1']);
  });

  it('marks ports that are set as explicit, including port 0', () => {
    const config = loadConfig({ HTTP_PORT: '8080', MQTT_PORT: '0', MQTT_WS_PORT: '9001' });

    expect(config.http.port).to.deep.equal({ port: 8080, explicit: true });
    expect(config.broker.tcp).to.deep.equal({ port: 0, explicit: true });
    expect(config.broker.ws).to.deep.equal({ port: 9001, explicit: true });
  });

  const badSettings: Array<[string, string]> = [
    ['HTTP_PORT', 'abc'],
    ['HTTP_PORT', '70000'],
    ['MQTT_PORT', '-1'],
    ['DATABASE_URL', 'postgres://x'],
    ['REDIS_URL', 'http://x'],
    ['MQTT_TOPIC_ROOT', 'a/b'],
    ['AUTH_JWT_SECRET', 'too-short-for-hs256'],
    ['LOG_LEVEL', 'loud'],
    ['PUSH_ALLOW_INSECURE_LOOPBACK', 'maybe'],
    ['PUSH_ENDPOINT_ALLOWLIST', 'fcm.googleapis.com,evil host'],
    ['API_KEYS', 'svc:only-two-fields'],
    ['INBOX_SEEN_RETENTION_DAYS', '0'],
    ['INBOX_SEEN_RETENTION_DAYS', 'a week'],
    ['INBOX_UNSEEN_WINDOW_MS', '-5'],
    ['INBOX_UNSEEN_WINDOW_MS', '60000'],
    ['NOTIFICATION_RETENTION_DAYS', '-1'],
    ['NOTIFICATION_RETENTION_DAYS', 'forever'],
    ['NOTIFICATION_RETENTION_DAYS', '3651'],
    ['RATE_LIMIT_USER_PER_MINUTE', '-1'],
    ['RATE_LIMIT_SERVICE_PER_MINUTE', 'lots'],
    ['RATE_LIMIT_IP_PER_MINUTE', '1.5'],
    ['HTTP_TRUSTED_PROXIES', 'proxy.local'],
    ['PUSH_HTTP2', 'yes'],
  ];
  for (const [variable, value] of badSettings) {
    it(`rejects ${variable}=${value} with a ConfigError naming ${variable}`, () => {
      const error = configErrorFor({ [variable]: value });

      expect(error.message).to.include(variable);
    });
  }

  it('keeps seen inbox items 30 days unless INBOX_SEEN_RETENTION_DAYS says otherwise', () => {
    expect(loadConfig({}).inbox.seenRetentionDays).to.equal(30);
    expect(loadConfig({ INBOX_SEEN_RETENTION_DAYS: '7' }).inbox.seenRetentionDays).to.equal(7);
  });

  it('gathers unseen counts over 250 ms unless INBOX_UNSEEN_WINDOW_MS says otherwise (0: every turn)', () => {
    expect(loadConfig({}).inbox.unseenWindowMs).to.equal(250);
    expect(loadConfig({ INBOX_UNSEEN_WINDOW_MS: '0' }).inbox.unseenWindowMs).to.equal(0);
    expect(loadConfig({ INBOX_UNSEEN_WINDOW_MS: '1000' }).inbox.unseenWindowMs).to.equal(1000);
  });

  it('keeps notifications 30 days unless NOTIFICATION_RETENTION_DAYS says otherwise (0: forever)', () => {
    expect(loadConfig({}).inbox).to.deep.equal({ seenRetentionDays: 30, notificationRetentionDays: 30, unseenWindowMs: 250 });
    expect(loadConfig({ NOTIFICATION_RETENTION_DAYS: '90' }).inbox.notificationRetentionDays).to.equal(90);
    expect(loadConfig({ NOTIFICATION_RETENTION_DAYS: '0' }).inbox.notificationRetentionDays).to.equal(0);
  });

  it('reports several bad variables in one error', () => {
    const error = configErrorFor({ HTTP_PORT: 'abc', LOG_LEVEL: 'loud', REDIS_URL: 'http://x' });

    expect(error.message).to.include('HTTP_PORT');
    expect(error.message).to.include('LOG_LEVEL');
    expect(error.message).to.include('REDIS_URL');
  });

  it('reports a malformed API_KEYS together with the other bad variables', () => {
    const error = configErrorFor({ HTTP_PORT: 'abc', API_KEYS: 'svc:only-two-fields' });

    expect(error.message).to.include('HTTP_PORT');
    expect(error.message).to.include('API_KEYS');
  });

  it('never repeats a rejected secret in its error message', () => {
    const secret = 'short-jwt-secret';
    const key = 'k'.repeat(20);

    expect(configErrorFor({ AUTH_JWT_SECRET: secret }).message).not.to.include(secret);
    expect(configErrorFor({ API_KEYS: `svc:${key}:crm:root` }).message).not.to.include(key);
  });

  it('treats empty connection, port, secret and list variables as unset', () => {
    const empty = ['DATABASE_URL', 'REDIS_URL', 'MQTT_URL', 'HTTP_PORT', 'MQTT_PORT'];
    const more = ['MQTT_WS_PORT', 'AUTH_JWT_SECRET', 'API_KEYS', 'PUSH_ENDPOINT_ALLOWLIST'];
    const env = Object.fromEntries([...empty, ...more].map((name) => [name, '']));

    expect(loadConfig(env)).to.deep.equal(loadConfig({}));
  });

  // A `LOG_LEVEL=` line in .env, or `${LOG_LEVEL}` in compose with nothing exported, is unset.
  it('treats empty variables that have defaults as unset', () => {
    const names = ['DATA_DIR', 'LOG_LEVEL', 'MQTT_TOPIC_ROOT', 'QUEUE_PREFIX', 'HTTP_HOST'];
    const more = ['MQTT_HOST', 'VAPID_SUBJECT', 'PUSH_ALLOW_INSECURE_LOOPBACK', 'PUSH_CONCURRENCY'];
    const most = ['PUSH_TIMEOUT_MS', 'PUSH_MAX_ATTEMPTS'];
    const env = Object.fromEntries([...names, ...more, ...most].map((name) => [name, '']));

    expect(loadConfig(env)).to.deep.equal(loadConfig({}));
  });

  // A blank value must not become 0 ("any free port", chosen explicitly): it is unset.
  it('treats a blank HTTP_PORT as unset rather than as port 0', () => {
    expect(loadConfig({ HTTP_PORT: ' ' }).http.port).to.deep.equal({ port: 3000, explicit: false });
  });

  it('rejects a port written in hex or with a sign', () => {
    expect(() => loadConfig({ HTTP_PORT: '0x50' })).to.throw(ConfigError, /HTTP_PORT/);
    expect(() => loadConfig({ MQTT_PORT: '-1' })).to.throw(ConfigError, /MQTT_PORT/);
  });

  it('replaces the default push hosts with PUSH_ENDPOINT_ALLOWLIST and strips a leading *.', () => {
    const allowlist = '*.Push.Example.com, fcm.googleapis.com';

    const config = loadConfig({ PUSH_ENDPOINT_ALLOWLIST: allowlist });

    expect(config.push.endpointPolicy.allowedHosts).to.deep.equal([
      'push.example.com',
      'fcm.googleapis.com',
    ]);
  });

  it('reads PUSH_ALLOW_INSECURE_LOOPBACK as a flag', () => {
    expect(loadConfig({ PUSH_ALLOW_INSECURE_LOOPBACK: 'yes' }).push.endpointPolicy)
      .to.have.property('allowInsecureLoopback', true);
    expect(loadConfig({ PUSH_ALLOW_INSECURE_LOOPBACK: '0' }).push.endpointPolicy)
      .to.have.property('allowInsecureLoopback', false);
  });

  it('speaks HTTP/2 to push services that offer it unless PUSH_HTTP2 says otherwise', () => {
    expect(loadConfig({}).push.http2).to.equal('auto');
    expect(loadConfig({ PUSH_HTTP2: 'off' }).push.http2).to.equal('off');
    expect(loadConfig({ PUSH_HTTP2: 'always' }).push.http2).to.equal('always');
  });

  it('parses API_KEYS into the auth settings', () => {
    const config = loadConfig({ API_KEYS: `crm-service:${KEY_A}:crm` });

    expect(config.auth.apiKeys).to.deep.equal([
      { name: 'crm-service', key: KEY_A, packages: ['crm'], admin: false, router: false },
    ]);
  });
});

describe('parseApiKeys', () => {
  it('reads a * scope, a + joined scope and the admin flag', () => {
    const keys = parseApiKeys(`ops:${KEY_A}:*:admin, billing:${KEY_B}:billing+crm`);

    expect(keys).to.deep.equal([
      { name: 'ops', key: KEY_A, packages: '*', admin: true, router: false },
      { name: 'billing', key: KEY_B, packages: ['billing', 'crm'], admin: false, router: false },
    ]);
  });

  it('returns no keys for an empty value', () => {
    expect(parseApiKeys('')).to.deep.equal([]);
  });

  const malformed: Array<[string, string]> = [
    ['a key shorter than 16 characters', 'svc:short-key:crm'],
    ['a repeated key', `one:${KEY_A}:crm,two:${KEY_A}:billing`],
    ['a bad package name', `svc:${KEY_A}:crm+bad/pkg`],
    ['a bad key name', `svc#1:${KEY_A}:crm`],
    ['a fourth field other than admin', `svc:${KEY_A}:crm:root`],
    ['a fifth field', `svc:${KEY_A}:crm:admin:extra`],
    ['a missing scope', `svc:${KEY_A}`],
  ];
  for (const [problem, value] of malformed) {
    it(`rejects ${problem} with a message`, () => {
      expect(parseApiKeys(value)).to.be.a('string');
    });
  }

  it('survives a round trip through formatApiKeys', () => {
    const keys: ApiKey[] = [
      { name: 'ops', key: KEY_A, packages: '*', admin: true, router: false },
      { name: 'billing', key: KEY_B, packages: ['billing', 'crm'], admin: false, router: false },
    ];

    expect(parseApiKeys(formatApiKeys(keys))).to.deep.equal(keys);
  });
});

describe('requireSetting', () => {
  it('returns a value that is set', () => {
    const url = 'redis://cache:6379';

    expect(requireSetting(url, 'REDIS_URL', 'set it')).to.equal(url);
  });

  it('throws a ConfigError naming the variable and the hint when the value is missing', () => {
    expect(() => requireSetting(undefined, 'REDIS_URL', 'point it at Redis 7')).to.throw(
      ConfigError,
      /REDIS_URL.*point it at Redis 7/,
    );
  });

  it('treats an empty list as missing', () => {
    expect(() => requireSetting([], 'API_KEYS', 'add a key')).to.throw(ConfigError, /API_KEYS/);
  });

  it('takes a configured VAPID default key pair only when both halves belong together', async () => {
    const { generateVapidKeyPair } = await import('../../shared/vapid/index.js');
    const pair = generateVapidKeyPair();
    const other = generateVapidKeyPair();

    const config = loadConfig({ VAPID_PUBLIC_KEY: pair.publicKey, VAPID_PRIVATE_KEY: pair.privateKey });
    expect(config.push.vapidDefaultKey).to.deep.equal(pair);
    expect(() => loadConfig({ VAPID_PUBLIC_KEY: pair.publicKey })).to.throw(ConfigError, /VAPID_PRIVATE_KEY/);
    expect(() => loadConfig({ VAPID_PUBLIC_KEY: pair.publicKey, VAPID_PRIVATE_KEY: other.privateKey }))
      .to.throw(ConfigError, /does not belong/);
  });

  it('reads a router role in API_KEYS', () => {
    const [key] = parseApiKeys(`notify-router:${'k'.repeat(20)}:*:router`) as ApiKey[];
    expect(key).to.include({ name: 'notify-router', router: true, admin: false });
  });
});
