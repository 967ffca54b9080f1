import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { chromium, type Browser } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from '../support/browser.js';
import { distMain } from '../support/fleet.js';
import { obliterateQueues } from '../support/queues.js';
import { ServiceProcess } from '../support/service-process.js';
import { TEST_REDIS_URL } from '../support/test-databases.js';
import { TEST_JWT_SECRET } from '../support/tokens.js';

const ADMIN_KEY = `board-admin-${randomUUID()}`;

describe('the queue board in Chromium', function () {
  this.timeout(60_000);
  const prefix = `board${randomUUID().slice(0, 8)}`;
  let api: ServiceProcess;
  let browser: Browser;
  let base: string;

  before(async function () {
    // SQLite in the process's own empty directory: the board needs only Redis.
    api = new ServiceProcess(distMain('subscription-api'), {
      AUTH_JWT_SECRET: TEST_JWT_SECRET, API_KEYS: `ops:${ADMIN_KEY}:*:admin`, REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix, HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', LOG_LEVEL: 'info',
    });
    const { port } = await api.waitForLog('http api listening');
    base = `http://127.0.0.1:${port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  after(async function () {
    await browser?.close();
    await api?.stop();
    await obliterateQueues(TEST_REDIS_URL, prefix);
  });

  it('shows the queues to an admin who signs in at the prompt, and asks nothing of another origin', async function () {
    const context = await browser.newContext({ httpCredentials: { username: 'ops', password: ADMIN_KEY } });
    const offOrigin: string[] = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${base}/`)) return route.continue();
      offOrigin.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    try {
      const answer = await page.goto(`${base}/admin/queues`);
      expect(answer?.status()).to.equal(200);
      for (const queue of ['route', 'push', 'reminders']) {
        await page.getByText(queue, { exact: true }).first().waitFor({ timeout: 15_000 });
      }
      await page.waitForLoadState('networkidle');

      expect(offOrigin).to.deep.equal([]);
    } finally {
      await context.close();
    }
  });

});
