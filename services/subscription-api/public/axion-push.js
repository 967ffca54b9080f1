// axion-push browser client: an ES module, no build step. Types: /axion-push.d.ts.
//
//   import { subscribe, unsubscribe, status } from '/axion-push.js';
//   await subscribe({ package: 'crm', token });   // token: the user's JWT; omit to use the cookie
//
// One browser push subscription exists per service worker registration, so a page subscribes
// for one package at a time.

const DEFAULT_WORKER = '/service-worker.js';

/** An error a page can show: `code` is stable, `message` is written for people. */
export class AxionPushError extends Error {
  constructor(code, message, status) {
    super(message);
    this.name = 'AxionPushError';
    this.code = code;
    if (status !== undefined) this.status = status;
  }
}

function isSupported() {
  return (
    typeof window !== 'undefined' &&
    window.isSecureContext &&
    'serviceWorker' in navigator &&
    'PushManager' in window &&
    'Notification' in window
  );
}

function assertSupported() {
  if (isSupported()) return;
  const reason = typeof window !== 'undefined' && !window.isSecureContext
    ? 'push notifications need a secure page (https:// or localhost)'
    : 'this browser does not support push notifications';
  throw new AxionPushError('unsupported', `Cannot subscribe: ${reason}.`);
}

/** Registers the service worker (once) and resolves when it is active. */
export async function registerServiceWorker(options = {}) {
  assertSupported();
  await navigator.serviceWorker.register(options.serviceWorker ?? DEFAULT_WORKER);
  return navigator.serviceWorker.ready;
}

async function askPermission() {
  if (Notification.permission === 'granted') return;
  if (Notification.permission === 'denied') throw deniedError();
  const answer = await Notification.requestPermission();
  if (answer === 'denied') throw deniedError();
  if (answer !== 'granted') {
    throw new AxionPushError('permission-dismissed', 'Notifications were not allowed: the permission prompt was dismissed. Try again and choose "Allow".');
  }
}

function deniedError() {
  return new AxionPushError('permission-denied', 'Notifications are blocked for this site. Allow them in the browser\'s site settings, then try again.');
}

const API_ERRORS = {
  400: 'invalid',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not-found',
  413: 'invalid',
  429: 'unavailable',
  503: 'unavailable',
};

/** Calls the API with the token (Bearer) or, without one, the cookie. */
async function callApi(options, method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let res;
  try {
    res = await fetch(`${options.apiBase ?? ''}${path}`, {
      method,
      headers,
      credentials: 'include',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new AxionPushError('network', `The push API could not be reached (${err.message}).`);
  }
  const answer = await res.json().catch(() => ({}));
  if (res.ok) return answer;
  const detail = answer?.error?.message ?? res.statusText;
  const code = API_ERRORS[res.status] ?? 'api';
  const lead = code === 'unauthenticated' ? 'Sign in again: ' : code === 'unavailable' ? 'The push API is busy or down; try again shortly: ' : '';
  throw new AxionPushError(code, `${lead}${detail}`, res.status);
}

function base64UrlToBytes(text) {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(text.length / 4) * 4, '=');
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

function sameBytes(buffer, bytes) {
  if (!buffer) return false;
  const view = new Uint8Array(buffer);
  return view.length === bytes.length && view.every((b, i) => b === bytes[i]);
}

/** Asks the service worker (which keeps what it needs to renew the subscription by itself). */
function askWorker(registration, message) {
  return new Promise((resolve, reject) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = ({ data }) => (data.ok ? resolve(data.result) : reject(new Error(data.error)));
    registration.active.postMessage({ type: `axion-push:${message.type}`, value: message.value }, [channel.port2]);
  });
}

/**
 * Subscribes this browser for `package` and registers the subscription with the API. Reuses a
 * subscription made with the package's current key; replaces one made with an older key.
 */
export async function subscribe(options) {
  if (!options?.package) throw new AxionPushError('invalid', 'subscribe() needs a package.');
  assertSupported();
  await askPermission();
  const registration = await registerServiceWorker(options);
  const { publicKey } = await callApi(options, 'GET', `/v1/vapid/${encodeURIComponent(options.package)}`);
  const key = base64UrlToBytes(publicKey);

  const saved = await askWorker(registration, { type: 'get' });
  let subscription = await registration.pushManager.getSubscription();
  const reused = subscription !== null && sameBytes(subscription.options.applicationServerKey, key);
  if (subscription && !reused) {
    // Made with another key (rotated, or another package): push services bind a subscription
    // to its key, so it cannot be kept.
    await subscription.unsubscribe();
    await forgetInApi(options, saved, subscription.endpoint);
    subscription = null;
  }
  if (!subscription) {
    try {
      subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    } catch (err) {
      throw new AxionPushError('push-service', `The browser could not subscribe to its push service (${err.message}).`);
    }
  }
  const body = { ...subscription.toJSON(), package: options.package, applicationServerKey: publicKey };
  if (options.module) body.module = options.module;
  const result = await callApi(options, 'POST', '/v1/subscriptions', body);
  await askWorker(registration, {
    type: 'save',
    value: {
      package: options.package,
      module: options.module ?? null,
      apiBase: options.apiBase ?? '',
      token: typeof options.token === 'string' ? options.token : null,
      applicationServerKey: publicKey,
      endpoint: subscription.endpoint,
    },
  });
  return { endpoint: subscription.endpoint, id: result.id, total: result.total, reused };
}

async function forgetInApi(options, saved, endpoint) {
  const pkg = saved?.package ?? options.package;
  try {
    await callApi(options, 'DELETE', '/v1/subscriptions', { package: pkg, endpoint });
  } catch (err) {
    // Already gone, or another package's: nothing left to clean up.
    if (!(err instanceof AxionPushError) || !['not-found', 'forbidden'].includes(err.code)) throw err;
  }
}

/** Unsubscribes this browser, and removes the subscription from the API. */
export async function unsubscribe(options) {
  if (!options?.package) throw new AxionPushError('invalid', 'unsubscribe() needs a package.');
  assertSupported();
  const registration = await registerServiceWorker(options);
  const subscription = await registration.pushManager.getSubscription();
  const saved = await askWorker(registration, { type: 'get' });
  const endpoint = subscription?.endpoint ?? saved?.endpoint ?? null;
  if (subscription) await subscription.unsubscribe();
  if (endpoint) await forgetInApi(options, saved, endpoint);
  await askWorker(registration, { type: 'forget' });
  return { endpoint };
}

/** Whether push works here, the notification permission, and whether this browser is subscribed. */
export async function status() {
  if (!isSupported()) return { supported: false, permission: 'unsupported', subscribed: false, endpoint: null };
  const registration = await navigator.serviceWorker.getRegistration();
  const subscription = registration ? await registration.pushManager.getSubscription() : null;
  return {
    supported: true,
    permission: Notification.permission,
    subscribed: subscription !== null,
    endpoint: subscription?.endpoint ?? null,
  };
}

/**
 * Reads the signed-in user's inbox: `{ items, unseen, next }`, newest first. `before` pages back;
 * `after` (the newest item's `cursor` you have) answers what came since, for a dashboard that
 * reconnects: follow `next` with `after` until it is null.
 */
export async function fetchInbox(options) {
  if (!options?.package) throw new AxionPushError('invalid', 'fetchInbox() needs a package.');
  const query = new URLSearchParams({ package: options.package });
  for (const name of ['state', 'before', 'after', 'limit']) {
    if (options[name] !== undefined) query.set(name, String(options[name]));
  }
  return callApi(options, 'GET', `/v1/inbox?${query}`);
}

/** Marks inbox items seen: `ids`, or everything `upTo` an item's cursor. Answers `{ marked, unseen }`. */
export async function markSeen(options) {
  if (!options?.package) throw new AxionPushError('invalid', 'markSeen() needs a package.');
  const body = { package: options.package };
  if (options.ids !== undefined) body.ids = options.ids;
  if (options.upTo !== undefined) body.upTo = options.upTo;
  const { marked, unseen } = await callApi(options, 'POST', '/v1/inbox/seen', body);
  return { marked, unseen };
}

/**
 * A handler for an MQTT client's `message` event on a user's push topic: each Message goes to
 * `onMessage`, each inbox count (`{ type: 'unseen', count }`) to `onUnseen`; anything that is not
 * JSON is ignored. `client.on('message', pushListener({ onMessage, onUnseen }))`.
 */
export function pushListener(handlers) {
  const decoder = new TextDecoder();
  return (topic, payload) => {
    let value;
    try {
      value = JSON.parse(typeof payload === 'string' ? payload : decoder.decode(payload));
    } catch {
      return;
    }
    if (value?.type === 'unseen') handlers.onUnseen?.(value.count, topic);
    else if (value && typeof value.id === 'string') handlers.onMessage?.(value, topic);
  };
}
