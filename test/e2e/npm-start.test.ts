import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ServiceProcess } from '../support/service-process.js';

const allInOne = join(process.cwd(), 'dist', 'services', 'all-in-one', 'main.js');
const ports = { HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', MQTT_PORT: '0', MQTT_WS_PORT: '0' };

/** The value printed after `label` in the start-up banner. */
function bannerValue(system: ServiceProcess, label: string): string | undefined {
  const line = system.output.find((l) => l.trimStart().startsWith(label));
  return line?.trim().slice(label.length).trim().split(/\s+/)[0];
}

describe('npm start on a machine with nothing configured', function () {
  this.timeout(60_000);
  let dataDir: string;

  beforeEach(function () {
    dataDir = mkdtempSync(join(tmpdir(), 'axion-start-'));
  });

  afterEach(function () {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('prints where it listens and local credentials that work, and stops on Ctrl-C', async function () {
    const system = new ServiceProcess(allInOne, { ...ports, DATA_DIR: dataDir, LOG_FORMAT: 'json' });
    const ready = await system.waitForLog('axion-push ready');
    await system.waitForText('service key');
    const base = `http://127.0.0.1:${ready['httpPort']}`;
    expect(system.output.join('\n')).to.contain(`HTTP API       http://localhost:${ready['httpPort']}`);
    expect(system.output.join('\n')).to.contain(`mqtt://localhost:${ready['mqttPort']}`);

    const token = bannerValue(system, 'user JWT');
    const key = bannerValue(system, 'service key');
    const listed = await fetch(`${base}/v1/subscriptions?package=demo`, { headers: { authorization: `Bearer ${token}` } });
    expect(listed.status).to.equal(200);
    const sent = await fetch(`${base}/v1/notifications`, {
      method: 'POST',
      headers: { 'x-api-key': key!, 'content-type': 'application/json' },
      body: JSON.stringify({ package: 'demo', target: { user: 'demo-user' }, title: 'Hello' }),
    });
    expect(sent.status).to.equal(202);

    const redisPid = Number(readFileSync(join(dataDir, 'redis', 'redis.pid'), 'utf8'));
    expect(await system.interrupt()).to.equal(0);
    expect(system.lines.some((l) => l.msg === 'stopped')).to.equal(true);
    expect(existsSync(`/proc/${redisPid}`)).to.equal(false);
  });

  it('never prints a key that the settings provide', async function () {
    const configuredKey = 'configured-production-key-0123456789';
    const system = new ServiceProcess(allInOne, {
      ...ports, DATA_DIR: dataDir, API_KEYS: `crm-app:${configuredKey}:crm`,
    });
    await system.waitForLog('axion-push ready');
    await system.waitForText('user JWT');
    await system.stop();

    const printed = system.output.join('\n');
    expect(printed).to.not.contain(configuredKey);
    expect(printed).to.not.contain('service key');
  });

  it('serves the demo page with its own secret, and not when the JWT secret is the operator\'s', async function () {
    const own = new ServiceProcess(allInOne, { ...ports, DATA_DIR: dataDir, LOG_FORMAT: 'json' });
    const ready = await own.waitForLog('axion-push ready');
    const withOwn = await fetch(`http://127.0.0.1:${ready['httpPort']}/`);
    await own.stop();
    const operators = new ServiceProcess(allInOne, {
      ...ports, DATA_DIR: dataDir, LOG_FORMAT: 'json', AUTH_JWT_SECRET: 'the-operators-own-secret-0123456789abcdef',
    });
    const second = await operators.waitForLog('axion-push ready');
    const withOperators = await fetch(`http://127.0.0.1:${second['httpPort']}/demo/session`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'anyone' }),
    });
    await operators.stop();

    expect(withOwn.status).to.equal(200);
    expect(withOperators.status).to.equal(404);
  });

  it('closes what it had started when stopped in the middle of starting', async function () {
    const system = new ServiceProcess(allInOne, { ...ports, DATA_DIR: dataDir, LOG_FORMAT: 'json' });
    await system.waitForLog('private redis-server started');
    const redisPid = Number(readFileSync(join(dataDir, 'redis', 'redis.pid'), 'utf8'));

    await system.stop();

    expect(existsSync(`/proc/${redisPid}`)).to.equal(false);
  });
});
