import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { CDPSession, Page, Worker } from 'playwright-core';
import type { Message } from '../../shared/events/index.js';
import type { InboxItem as ClientInboxItem, Message as ClientMessage } from '../../services/subscription-api/public/axion-push.js';
import type { InboxItemAnswer } from '../../services/subscription-api/read-inbox.js';
import { launchBrowser, type TestBrowser } from '../support/browser.js';
import { fakePushSubscribe, pushedKeys, type FakeSubscription } from '../support/browser-push.js';
import { Fleet } from '../support/fleet.js';
import { LocalPushService } from '../support/local-push-service.js';
import type { ServiceProcess } from '../support/service-process.js';
import { createTestDatabase } from '../support/test-databases.js';
import { userToken } from '../support/tokens.js';
import { createBrowserKeys, decryptPayload } from '../support/web-push-receiver.js';

// The client's Message type is the contract's, field for field (checked by `npm run typecheck`).
const sameMessageType: [ClientMessage] extends [Message] ? ([Message] extends [ClientMessage] ? true : false) : false = true;
// And its inbox item is what `GET /v1/inbox` answers.
const sameInboxItemType: [ClientInboxItem] extends [InboxItemAnswer] ? ([InboxItemAnswer] extends [ClientInboxItem] ? true : false) : false = true;

const SERVICE_KEY = 'browser-service-key-0123456789abcdef';
const ROUTER_KEY = 'browser-router-key-0123456789abcdef';
/** Where the run leaves its screenshot for a person to look at (git-ignored). */
const SCREENSHOT = join(process.cwd(), 'test-results', 'browser', 'demo-page.png');

describe('the browser client, service worker and demo page in Chromium (all-in-one)', function () {
  this.timeout(60_000);
  const fleet = new Fleet();
  let pushService: LocalPushService;
  let browser: TestBrowser;
  let dataDir: string;
  let system: ServiceProcess;
  let base: string;
  let page: Page;
  let cdp: CDPSession;
  const user = `browser-${randomUUID().slice(0, 8)}`;
  const problems: string[] = [];
  const keys = createBrowserKeys();
  let subscription: FakeSubscription;

  async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { 'content-type': 'application/json', 'x-api-key': SERVICE_KEY, ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as any };
  }

  async function subscriptionsOfUser(): Promise<{ endpoint: string; active: boolean; deactivatedReason: string | null }[]> {
    const token = await userToken(user, ['demo']);
    const res = await api('GET', '/v1/subscriptions?package=demo', undefined, { authorization: `Bearer ${token}` });
    expect(res.status).to.equal(200);
    return res.body.subscriptions;
  }

  async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 5_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = await probe();
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The Message the push-worker really sent to the local push service, decrypted as a browser would. */
  async function pushedPayload(path: string, count: number): Promise<string> {
    const received = await pushService.waitFor(path, count);
    const body = received[count - 1]!.body;
    return decryptPayload({ body, privateKey: keys.privateKey, auth: keys.auth }).toString('utf8');
  }

  /**
   * Delivers `data` as a push message through the DevTools protocol, waits until Chromium has put
   * the worker's notification on the desktop, and returns what `registration.getNotifications()`
   * lists. (Asked earlier, Chromium may drop a notification it has not finished displaying.)
   */
  async function showPush(data: string): Promise<{ title: string; body: string; tag: string }[]> {
    const registrationId = await until(async () => registrations.get(base), 'the worker registration');
    const before = browser.notifications.shown.length;
    await cdp.send('ServiceWorker.deliverPushMessage', { origin: base, registrationId, data });
    await browser.notifications.waitFor((n) => browser.notifications.shown.indexOf(n) >= before);
    await new Promise((r) => setTimeout(r, 100));
    return shownNotifications();
  }

  async function shownNotifications(): Promise<{ title: string; body: string; tag: string }[]> {
    return page.evaluate(async () => {
      const registration = await (globalThis as any).navigator.serviceWorker.ready;
      const list = await registration.getNotifications();
      return list.map((n: any) => ({ title: n.title, body: n.body, tag: n.tag }));
    });
  }

  const registrations = new Map<string, string>();

  before(async function () {
    pushService = await new LocalPushService().start();
    fleet.database = await createTestDatabase('mysql');
    dataDir = mkdtempSync(join(tmpdir(), 'axion-browser-data-'));
    system = fleet.start(
      'all-in-one',
      fleet.env(
        { producer: SERVICE_KEY, router: ROUTER_KEY },
        {
          API_KEYS: `producer:${SERVICE_KEY}:demo,router:${ROUTER_KEY}:*:router`,
          DATA_DIR: dataDir,
          HTTP_HOST: '127.0.0.1',
          HTTP_PORT: '0',
          PUSH_ALLOW_INSECURE_LOOPBACK: 'true',
          LOG_FORMAT: 'json',
          // The fleet sets AUTH_JWT_SECRET, which turns the demo off unless asked for.
          DEMO_PAGE: 'true',
        },
      ),
    );
    const ready = await system.waitForLog('axion-push ready');
    base = `http://127.0.0.1:${ready['httpPort']}`;
    const wsOrigin = `ws://127.0.0.1:${ready['mqttWsPort']}`;
    subscription = { endpoint: pushService.endpoint(`/push/${user}/first`), keys: pushedKeys(keys) };

    browser = await launchBrowser();
    await browser.context.grantPermissions(['notifications'], { origin: base });
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    // Nothing from a CDN: every request stays on the API's origin or the broker's WebSocket.
    page.on('request', (r) => {
      if (!r.url().startsWith(base) && !r.url().startsWith(wsOrigin) && !r.url().startsWith('data:')) {
        problems.push(`request to ${r.url()}`);
      }
    });
    cdp = await browser.context.newCDPSession(page);
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: list }) => {
      for (const r of list) if (!r.isDeleted) registrations.set(new URL(r.scopeURL).origin, r.registrationId);
    });
    await cdp.send('ServiceWorker.enable');
  });

  after(async function () {
    await browser?.close();
    await fleet.close();
    await pushService?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('loads the demo page with no console errors, and its service worker controls the page', async function () {
    await page.goto(`${base}/`);
    await page.waitForFunction(() => (globalThis as any).navigator.serviceWorker.controller !== null);
    const worker = await page.evaluate(() => (globalThis as any).navigator.serviceWorker.controller.scriptURL);
    expect(worker).to.equal(`${base}/service-worker.js`);
    await page.fill('#user', user);
    await page.click('#sign-in');
    await page.waitForSelector('#feed-status.live');
    expect(await page.textContent('#session')).to.contain(`Signed in as ${user}`);
    expect(problems).to.deep.equal([]);
    // `npm start` tells where the page is.
    expect(await system.waitForText('demo page')).to.contain(`http://localhost:${new URL(base).port}/`);
  });

  it('says clearly that notifications are blocked when the permission is denied, and subscribes nothing', async function () {
    await cdp.send('Browser.setPermission', { origin: base, permission: { name: 'notifications' }, setting: 'denied' });
    try {
      await page.click('#subscribe');
      await page.waitForSelector('#push-status.bad');
      expect(await page.textContent('#push-status')).to.equal(
        'Notifications are blocked for this site. Allow them in the browser\'s site settings, then try again.',
      );
      const code = await page.evaluate(() =>
        import('/axion-push.js' as string).then((client) => client.subscribe({ package: 'demo' }).catch((err: any) => err.code)),
      );
      expect(code).to.equal('permission-denied');
      expect(await subscriptionsOfUser()).to.deep.equal([]);
    } finally {
      await browser.context.grantPermissions(['notifications'], { origin: base });
    }
  });

  it('subscribes through the real API (only PushManager.subscribe replaced) and unsubscribes', async function () {
    await fakePushSubscribe(page, subscription);
    await page.click('#subscribe');
    await page.waitForSelector('#push-status.ok');
    expect(await page.textContent('#push-status')).to.contain('Subscribed');

    // The browser was asked to subscribe with the package's VAPID key, and the API holds the subscription.
    const { body: vapid } = await api('GET', '/v1/vapid/demo');
    const usedKey = await page.evaluate(() => (globalThis as any).__subscribedWith);
    expect(usedKey).to.deep.equal({ userVisibleOnly: true, applicationServerKey: vapid.publicKey });
    expect(pick(await subscriptionsOfUser(), subscription.endpoint)).to.include({ active: true });

    await page.click('#unsubscribe');
    await page.waitForFunction(() => (globalThis as any).document.querySelector('#push-status').textContent === 'Unsubscribed.');
    expect(pick(await subscriptionsOfUser(), subscription.endpoint)).to.include({ active: false, deactivatedReason: 'unsubscribed' });

    // Subscribed again for what follows.
    await page.click('#subscribe');
    await page.waitForFunction(() => (globalThis as any).document.querySelector('#push-status').textContent.startsWith('Subscribed'));
    expect(pick(await subscriptionsOfUser(), subscription.endpoint)).to.include({ active: true });
    expect(problems).to.deep.equal([]);
  });

  it('subscribes with the access_token cookie instead of a token', async function () {
    const cookieUser = `cookie-${randomUUID().slice(0, 8)}`;
    const token = await userToken(cookieUser, ['demo']);
    await browser.context.addCookies([{ name: 'access_token', value: token, url: base }]);
    try {
      await fakePushSubscribe(page, subscription);
      const result = await page.evaluate(async () => {
        const client = await import('/axion-push.js' as string);
        return client.subscribe({ package: 'demo' });
      });
      expect(result).to.be.an('object');

      const res = await api('GET', '/v1/subscriptions?package=demo', undefined, { authorization: `Bearer ${token}` });
      const listed = res.body.subscriptions as { endpoint: string; active: boolean }[];
      expect(listed.find((s) => s.endpoint === subscription.endpoint)).to.include({ active: true });
    } finally {
      await browser.context.clearCookies({ name: 'access_token' });
      // Back to the demo user's token-based subscription, which the service worker keeps for later.
      await page.click('#subscribe');
      await page.waitForFunction(() => (globalThis as any).document.querySelector('#push-status').textContent.startsWith('Subscribed'));
    }
  });

  it('shows a notification posted to the API in the live MQTT feed within a second', async function () {
    const started = Date.now();
    const { status, body } = await api('POST', '/v1/notifications', {
      package: 'demo', target: { user }, title: 'Invoice paid', body: 'ACME paid invoice 42', delivery: 'realtime',
    });
    expect(status).to.equal(202);
    await page.waitForSelector(`#feed li[data-id="${body.id}"]`, { timeout: 1_000 });
    expect(Date.now() - started).to.be.below(1_000);
    expect(await page.textContent(`#feed li[data-id="${body.id}"]`)).to.contain('Invoice paid').and.contain('ACME paid invoice 42');
  });

  it('sends a test notification from the form to the signed-in user and to a group they joined', async function () {
    await page.fill('#send-form input[name="title"]', 'Sent from the form');
    await page.click('#send');
    await page.waitForSelector('#send-status.ok');
    const mine = acceptedId(await page.textContent('#send-status'));
    await page.waitForSelector(`#feed li[data-id="${mine}"]`);

    const group = `team-${randomUUID().slice(0, 6)}`;
    await page.fill('#send-form input[name="group"]', group);
    await page.click('#join-group');
    await page.waitForFunction((g) => (globalThis as any).document.querySelector('#send-status').textContent.includes(`group "${g}"`), group);
    expect((await api('GET', `/v1/groups/demo/${group}/members`)).body.members).to.deep.equal([user]);
    await page.check('#send-form input[value="group"]');
    await page.fill('#send-form input[name="title"]', 'Sent to the group');
    await page.click('#send');
    await page.waitForFunction((id) => {
      const text: string = (globalThis as any).document.querySelector('#send-status').textContent;
      return text.startsWith('Accepted as') && !text.includes(id);
    }, mine);
    const toGroup = acceptedId(await page.textContent('#send-status'));
    await page.waitForSelector(`#feed li[data-id="${toGroup}"]`);
    expect(await page.textContent(`#feed li[data-id="${toGroup}"]`)).to.contain('Sent to the group');
    expect(problems).to.deep.equal([]);
  });

  it('shows the unseen count the router publishes after each Message, and "Mark all seen" brings it to 0', async function () {
    const headers = { authorization: `Bearer ${await userToken(user, ['demo'])}` };
    const shown = (n: number) => page.waitForFunction((count) => (globalThis as any).document.querySelector('#unseen').dataset.count === String(count), n);
    // The notifications of the tests before, as the inbox counts them, and as the page shows them.
    const before = (await api('GET', '/v1/inbox?package=demo', undefined, headers)).body.unseen as number;
    expect(before).to.be.above(0);
    await shown(before);

    const { body } = await api('POST', '/v1/notifications', { package: 'demo', target: { user }, title: 'Counted', delivery: 'realtime' });
    await page.waitForSelector(`#feed li[data-id="${body.id}"]`);
    await shown(before + 1);
    await page.click('#mark-seen');
    await shown(0);

    const inbox = await api('GET', '/v1/inbox?package=demo', undefined, headers);
    expect(inbox.body.unseen).to.equal(0);
    expect(inbox.body.items[0].message).to.include({ id: body.id, title: 'Counted' });
    expect(sameInboxItemType).to.equal(true);
    expect(problems).to.deep.equal([]);
  });

  it('lists what is in the inbox when the page opens again, also what came while it was closed', async function () {
    await page.goto('about:blank');
    const { body } = await api('POST', '/v1/notifications', { package: 'demo', target: { user }, title: 'While you were away', delivery: 'realtime' });
    const token = await userToken(user, ['demo']);
    await until(async () => {
      const inbox = await api('GET', '/v1/inbox?package=demo&limit=1', undefined, { authorization: `Bearer ${token}` });
      return inbox.body.items[0]?.notificationId === body.id ? true : undefined;
    }, 'the notification in the inbox');

    await page.goto(`${base}/`);

    await page.waitForSelector(`#feed li[data-id="${body.id}"]`);
    await page.waitForFunction(() => (globalThis as any).document.querySelector('#unseen').dataset.count === '1');
    expect(await page.textContent(`#feed li[data-id="${body.id}"]`)).to.contain('While you were away');
    expect(problems).to.deep.equal([]);
  });

  it('saves a screenshot of the demo page after a message arrived (test-results/browser/demo-page.png)', async function () {
    expect(await page.locator('#feed li').count()).to.be.at.least(1);
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(readFileSync(SCREENSHOT).subarray(1, 4).toString()).to.equal('PNG');
  });

  it('shows a real push in the real service worker; the same tag replaces it; a click opens the URL', async function () {
    const path = new URL(subscription.endpoint).pathname;
    const sent = pushService.requestsTo(path).length;
    const notify = (title: string, body: string) =>
      api('POST', '/v1/notifications', {
        package: 'demo', target: { user }, title, body, tag: 'build', url: '/?from=notification', delivery: 'always',
      });
    const first = await notify('Build 1 failed', 'main is red');
    expect(first.status).to.equal(202);
    // The exact bytes the push-worker sent, as the browser's push service would hand them over.
    const payload = await pushedPayload(path, sent + 1);
    expect(JSON.parse(payload)).to.include({ id: first.body.id, title: 'Build 1 failed', tag: 'build' });
    expect(await showPush(payload)).to.deep.equal([{ title: 'Build 1 failed', body: 'main is red', tag: 'build' }]);

    expect((await notify('Build 2 passed', 'main is green')).status).to.equal(202);
    const replacement = await pushedPayload(path, sent + 2);
    expect(await showPush(replacement)).to.deep.equal([{ title: 'Build 2 passed', body: 'main is green', tag: 'build' }]);

    // A person clicks it on the desktop: the worker opens the URL in a new tab.
    const opened = browser.context.waitForEvent('page', { timeout: 5_000 });
    browser.notifications.click(browser.notifications.shown.at(-1)!.id);
    const tab = await opened;
    await tab.waitForURL(`${base}/?from=notification`);
    await until(async () => ((await shownNotifications()).length === 0 ? true : undefined), 'the first click');

    // Clicked again while that tab is open: the worker focuses it instead of opening another.
    await showPush(replacement);
    browser.notifications.click(browser.notifications.shown.at(-1)!.id);
    await until(async () => ((await shownNotifications()).length === 0 ? true : undefined), 'the second click');
    await new Promise((r) => setTimeout(r, 300));
    expect(browser.context.pages().filter((p) => p.url() === `${base}/?from=notification`)).to.have.length(1);
    await tab.close();
  });

  it('shows a default notification for an empty or non-JSON payload', async function () {
    expect(await showPush('')).to.deep.equal([{ title: 'New notification', body: '', tag: '' }]);
    expect((await showPush('Your export is ready'))[1]).to.deep.equal({ title: 'New notification', body: 'Your export is ready', tag: '' });
    await page.evaluate(async () => {
      const registration = await (globalThis as any).navigator.serviceWorker.ready;
      for (const n of await registration.getNotifications()) n.close();
    });
  });

  it('on pushsubscriptionchange subscribes again with the same key and updates the API', async function () {
    const worker: Worker = browser.context.serviceWorkers().find((w) => w.url() === `${base}/service-worker.js`)!;
    const renewedKeys = createBrowserKeys();
    const renewed = { endpoint: pushService.endpoint(`/push/${user}/renewed`), keys: pushedKeys(renewedKeys) };
    await fakePushSubscribe(worker, renewed);
    // What the browser does when its push service replaced the subscription (Chromium passes no
    // old subscription): the worker only has what it saved at subscribe time.
    await worker.evaluate(() => {
      const scope = globalThis as any;
      scope.dispatchEvent(new scope.PushSubscriptionChangeEvent('pushsubscriptionchange', {}));
    });

    await until(async () => {
      const rows = await subscriptionsOfUser();
      return pick(rows, renewed.endpoint)?.active && !pick(rows, subscription.endpoint)?.active ? rows : undefined;
    }, 'the renewed subscription in the API');
    const { body: vapid } = await api('GET', '/v1/vapid/demo');
    expect(await worker.evaluate(() => (globalThis as any).__subscribedWith)).to.deep.equal({
      userVisibleOnly: true,
      applicationServerKey: vapid.publicKey,
    });

    // Pushes now reach the new subscription.
    const id = (await api('POST', '/v1/notifications', { package: 'demo', target: { user }, title: 'After renewal', delivery: 'always' })).body.id;
    const [push] = await pushService.waitFor(`/push/${user}/renewed`);
    const message = JSON.parse(decryptPayload({ body: push!.body, privateKey: renewedKeys.privateKey, auth: renewedKeys.auth }).toString('utf8'));
    expect(message).to.include({ id, title: 'After renewal' });
    expect(problems).to.deep.equal([]);
    expect(sameMessageType).to.equal(true);
  });
});

/** The event id in the form's "Accepted as <id>." line. */
function acceptedId(status: string | null): string {
  const id = /^Accepted as (\S+)\.$/.exec(status ?? '')?.[1];
  if (!id) throw new Error(`the form said: ${status}`);
  return id;
}

function pick<T extends { endpoint: string }>(rows: T[], endpoint: string): T | undefined {
  return rows.find((r) => r.endpoint === endpoint);
}

describe('the demo page switch (DEMO_PAGE)', function () {
  this.timeout(60_000);
  const fleet = new Fleet();

  before(async function () {
    fleet.database = await createTestDatabase('mysql');
  });

  after(async function () {
    await fleet.close();
  });

  async function startApi(extra: Record<string, string>): Promise<string> {
    const api = fleet.start('subscription-api', fleet.env({ producer: SERVICE_KEY, router: ROUTER_KEY }, { HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', ...extra }));
    return `http://127.0.0.1:${(await api.waitForLog('http api listening'))['port']}`;
  }

  it('is off for a subscription-api started alone: no page, no demo sign-in; the client and worker are served', async function () {
    const base = await startApi({});
    expect((await fetch(`${base}/`)).status).to.equal(404);
    expect((await fetch(`${base}/demo/session`, { method: 'POST' })).status).to.equal(404);
    expect((await fetch(`${base}/vendor/mqtt.esm.js`)).status).to.equal(404);
    for (const file of ['/axion-push.js', '/service-worker.js']) {
      const res = await fetch(`${base}${file}`);
      expect(res.status, file).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/javascript/);
    }
    expect(await (await fetch(`${base}/axion-push.d.ts`)).text()).to.contain('export interface Message');
  });

  it('is on with DEMO_PAGE=true, and its sign-in issues an hour-long token for the demo package only', async function () {
    const base = await startApi({ DEMO_PAGE: 'true' });
    const page = await fetch(`${base}/`);
    expect(page.status).to.equal(200);
    expect(page.headers.get('content-security-policy')).to.contain("default-src 'self'");
    const res = await fetch(`${base}/demo/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'ann' }),
    });
    expect(res.status).to.equal(201);
    const session = (await res.json()) as { token: string; user: string; package: string };
    expect(session).to.include({ user: 'ann', package: 'demo' });
    const claims = JSON.parse(Buffer.from(session.token.split('.')[1]!, 'base64url').toString());
    expect(claims).to.include({ sub: 'ann' });
    expect(claims.packages).to.deep.equal(['demo']);
    expect(claims.exp - claims.iat).to.equal(3600);
    // The token is worth nothing outside the demo package.
    const elsewhere = await fetch(`${base}/v1/subscriptions?package=crm`, { headers: { authorization: `Bearer ${session.token}` } });
    expect(elsewhere.status).to.equal(403);
  });
});
