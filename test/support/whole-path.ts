import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { connectAsync, type MqttClient } from 'mqtt';
import type { Message } from '../../shared/events/index.js';
import type { LocalPushService } from './local-push-service.js';
import { userToken } from './tokens.js';
import { createBrowserKeys, decryptPayload, verifyVapidAuthorization, type BrowserKeys } from './web-push-receiver.js';

export interface Deployment {
  httpBase: string;
  mqttUrl: string;
  serviceKey: string;
  pushService: LocalPushService;
}

export interface Subscriber {
  user: string;
  pkg: string;
  token: string;
  ok: { path: string; keys: BrowserKeys };
  gone: { path: string; keys: BrowserKeys };
  dashboard: MqttClient;
  messages: Message[];
  vapidPublicKey: string;
}

async function api(base: string, method: string, path: string, headers: Record<string, string>, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/**
 * A user with two browser subscriptions (one that the push service accepts, one that it
 * answers 410) and a dashboard subscribed to their push topic.
 */
export async function subscribeUser(d: Deployment, pkg = 'e2e', topicRoot = 'axion'): Promise<Subscriber> {
  const user = `user-${randomUUID().slice(0, 8)}`;
  const token = await userToken(user, [pkg]);
  const auth = { authorization: `Bearer ${token}` };
  const vapid = await api(d.httpBase, 'GET', `/v1/vapid/${pkg}`, {});
  expect(vapid.status).to.equal(200);

  const ok = { path: `/push/${user}/ok`, keys: createBrowserKeys() };
  const gone = { path: `/push/${user}/gone`, keys: createBrowserKeys() };
  for (const [sub, status] of [[ok, 201], [gone, 410]] as const) {
    const res = await api(d.httpBase, 'POST', '/v1/subscriptions', auth, {
      package: pkg,
      endpoint: d.pushService.endpoint(sub.path, status),
      expirationTime: null,
      keys: { p256dh: sub.keys.p256dh, auth: sub.keys.auth },
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
  }

  // A dashboard logs in to the broker as its user, with the same JWT as the API.
  const dashboard = await connectAsync(d.mqttUrl, {
    clientId: `dash-${user}`,
    reconnectPeriod: 0,
    username: user,
    password: token,
  });
  const messages: Message[] = [];
  dashboard.on('message', (_topic, payload) => messages.push(JSON.parse(payload.toString()) as Message));
  await dashboard.subscribeAsync(`${topicRoot}/${pkg}/push/${user}`, { qos: 1 });
  return { user, pkg, token, ok, gone, dashboard, messages, vapidPublicKey: vapid.body.publicKey };
}

export async function postNotification(d: Deployment, body: Record<string, unknown>): Promise<string> {
  const res = await api(d.httpBase, 'POST', '/v1/notifications', { 'x-api-key': d.serviceKey }, body);
  expect(res.status, JSON.stringify(res.body)).to.equal(202);
  return res.body.id as string;
}

export async function waitForMessage(s: Subscriber, id: string, timeoutMs = 10_000): Promise<Message> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = s.messages.find((m) => m.id === id);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no realtime message ${id} for ${s.user}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Decrypts a received push with the browser's keys, as the browser would. */
export function openPush(body: Buffer, keys: BrowserKeys): Message {
  return JSON.parse(decryptPayload({ body, privateKey: keys.privateKey, auth: keys.auth }).toString('utf8')) as Message;
}

export async function listSubscriptions(d: Deployment, s: Subscriber) {
  const res = await api(d.httpBase, 'GET', `/v1/subscriptions?package=${s.pkg}`, { authorization: `Bearer ${s.token}` });
  expect(res.status).to.equal(200);
  return res.body.subscriptions as { endpoint: string; active: boolean; deactivatedReason: string | null }[];
}

/**
 * The whole path for one notification: realtime Message over MQTT, an encrypted Web Push
 * with a valid VAPID JWT to the live endpoint, and the 410 endpoint deactivated.
 */
export async function assertWholePath(d: Deployment, s: Subscriber): Promise<void> {
  const sentAt = Math.floor(Date.now() / 1000);
  const id = await postNotification(d, {
    package: s.pkg,
    target: { user: s.user },
    title: 'Invoice paid',
    body: 'ACME paid invoice 42',
    url: '/invoices/42',
    tag: 'invoice-42',
    data: { invoice: 42 },
    ttl: 600,
    urgency: 'high',
    topic: 'invoice-42',
    delivery: 'always',
  });

  // (a) the dashboard gets the Message in realtime.
  const message = await waitForMessage(s, id);
  expect(message).to.deep.include({
    id, package: s.pkg, user: s.user, title: 'Invoice paid', body: 'ACME paid invoice 42',
    url: '/invoices/42', tag: 'invoice-42', data: { invoice: 42 },
  });

  // (b) the live endpoint gets the same Message, encrypted for that browser, with VAPID.
  const [push] = await d.pushService.waitFor(s.ok.path);
  expect(openPush(push!.body, s.ok.keys)).to.deep.equal(message);
  expect(push!.headers).to.include({ 'content-encoding': 'aes128gcm', urgency: 'high', topic: 'invoice-42' });
  expect(Number(push!.headers['ttl'])).to.be.within(590, 600);
  const vapid = verifyVapidAuthorization(String(push!.headers.authorization));
  expect(vapid.publicKey).to.equal(s.vapidPublicKey);
  expect(vapid.claims.aud).to.equal(d.pushService.origin);
  expect(vapid.claims.exp).to.be.above(sentAt).and.at.most(sentAt + 24 * 3600 + 5);
  expect(vapid.claims.sub).to.match(/^(mailto:|https:)/);

  // (c) the 410 endpoint was tried once and is inactive afterwards.
  await d.pushService.waitFor(s.gone.path);
  const deadline = Date.now() + 5_000;
  let gone;
  do {
    gone = (await listSubscriptions(d, s)).find((x) => x.endpoint.endsWith(s.gone.path));
    if (gone?.active === false) break;
    await new Promise((r) => setTimeout(r, 50));
  } while (Date.now() < deadline);
  expect(gone).to.include({ active: false, deactivatedReason: 'push-service-410' });
  const live = (await listSubscriptions(d, s)).find((x) => x.endpoint.endsWith(s.ok.path));
  expect(live?.active).to.equal(true);

  // The producer can see what happened to the notification.
  const statusDeadline = Date.now() + 5_000;
  let status;
  do {
    status = await api(d.httpBase, 'GET', `/v1/notifications/${id}`, { 'x-api-key': d.serviceKey });
    if (status.body.pending === 0 && status.body.cleaned === 1) break;
    await new Promise((r) => setTimeout(r, 50));
  } while (Date.now() < statusDeadline);
  expect(status.status).to.equal(200);
  expect(status.body).to.include({
    id, package: s.pkg, realtime: 1, pushQueued: 1, pushDone: 1, sent: 1, cleaned: 1, failed: 0, expired: 0, pending: 0,
  });

  // No retry ever reaches the dead endpoint: a second notification reaches only the live one.
  const second = await postNotification(d, { package: s.pkg, target: { user: s.user }, title: 'Second', delivery: 'always' });
  await waitForMessage(s, second);
  await d.pushService.waitFor(s.ok.path, 2);
  await new Promise((r) => setTimeout(r, 1_500));
  expect(d.pushService.requestsTo(s.gone.path)).to.have.length(1);
  expect(d.pushService.requestsTo(s.ok.path)).to.have.length(2);
}
