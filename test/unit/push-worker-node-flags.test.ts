import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { PUSH_WORKER_NODE_FLAGS } from '../../services/push-worker/node-flags.js';

const MAIN = 'dist/services/push-worker/main.js';
const scripts = () =>
  (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;

describe('push-worker node flags', function () {
  it('docker-compose.yml starts the push-worker with them', function () {
    const compose = readFileSync('docker-compose.yml', 'utf8');
    const service = /^ {2}push-worker:\n((?: {4}.*\n|\n)*)/m.exec(compose)?.[1];
    expect(service, 'push-worker service in docker-compose.yml').to.be.a('string');
    const command = /^ {4}command: (\[.*\])$/m.exec(service!)?.[1];
    expect(JSON.parse(command!)).to.deep.equal(['node', ...PUSH_WORKER_NODE_FLAGS, MAIN]);
  });

  it('npm run start:push-worker starts it with them', function () {
    expect(scripts()['start:push-worker']).to.match(new RegExp(` && node ${PUSH_WORKER_NODE_FLAGS.join(' ')} ${MAIN}$`));
  });

  it('npm run bench:push runs on them, so that its baselines share the worker\'s settings', function () {
    expect(scripts()['bench:push']).to.equal(`node ${PUSH_WORKER_NODE_FLAGS.join(' ')} --import tsx bench/push.ts`);
  });

  it('are accepted by this Node', function () {
    const run = spawnSync(process.execPath, [...PUSH_WORKER_NODE_FLAGS, '-e', 'process.exit(0)'], { encoding: 'utf8' });
    expect(run.stderr).to.equal('');
    expect(run.status).to.equal(0);
  });
});
