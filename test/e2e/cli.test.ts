import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { decodeBase64Url, isP256PublicKey } from '../../shared/vapid/index.js';
import { createTestDatabase, type TestDatabase } from '../support/test-databases.js';

const cli = join(process.cwd(), 'dist', 'cli', 'main.js');

async function run(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, ...args], {
      env: { PATH: process.env['PATH'], ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('axion-push CLI', function () {
  this.timeout(30_000);
  let testDb: TestDatabase;

  after(async function () {
    await testDb?.drop();
  });

  it('migrates a fresh MariaDB database, then reports it up to date', async function () {
    testDb = await createTestDatabase('mysql');
    const first = await run(['migrate'], { DATABASE_URL: testDb.config.url });
    const second = await run(['migrate'], { DATABASE_URL: testDb.config.url });
    expect(first).to.include({ code: 0 });
    expect(first.stdout).to.contain('applied: InitialSchema');
    expect(second.stdout.trim()).to.equal('the database is up to date');
  });

  it('prints a usable VAPID key pair', async function () {
    const { code, stdout } = await run(['vapid', 'generate', '--json']);
    const pair = JSON.parse(stdout) as { publicKey: string; privateKey: string };
    expect(code).to.equal(0);
    expect(isP256PublicKey(decodeBase64Url(pair.publicKey)!)).to.equal(true);
    expect(decodeBase64Url(pair.privateKey)).to.have.length(32);
  });

  it('rotates a package key in the database: the old key stays, a new one becomes current', async function () {
    testDb ??= await createTestDatabase('mysql');
    const env = { DATABASE_URL: testDb.config.url };
    const first = await run(['vapid', 'rotate', 'cli-pkg'], env);
    const second = await run(['vapid', 'rotate', 'cli-pkg'], env);
    expect(first.code).to.equal(0);
    const keyOf = (out: string) => /: (B[A-Za-z0-9_-]{86})$/m.exec(out)?.[1];
    expect(keyOf(first.stdout)).to.be.a('string');
    expect(keyOf(second.stdout)).to.be.a('string').and.not.equal(keyOf(first.stdout));
    expect((await run(['vapid', 'rotate', 'bad/name'], env)).code).to.equal(1);
  });

  it('exits 2 on an unknown command and 1 on bad settings, naming the variable', async function () {
    expect((await run(['frobnicate'])).code).to.equal(2);
    const bad = await run(['migrate'], { DATABASE_URL: 'postgres://nope' });
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.contain('DATABASE_URL');
  });
});
