// axion-push service worker: shows pushed Messages, opens their URL on click, and keeps the
// subscription registered with the API when the browser replaces it. A classic script (not a
// module) so that every browser with Web Push can run it.

const DEFAULT_TITLE = 'New notification';
const STORE = { db: 'axion-push', table: 'state', key: 'subscription' };

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

// ---------------------------------------------------------------------------------------------
// push → notification

/** The pushed Message, or a default when the payload is empty or not a Message. */
function readMessage(data) {
  if (!data) return { title: DEFAULT_TITLE };
  let text = '';
  try {
    text = data.text();
    const message = JSON.parse(text);
    if (message && typeof message.title === 'string' && message.title !== '') return message;
  } catch {
    // Not JSON: shown as the body of a default notification.
  }
  return { title: DEFAULT_TITLE, body: text.slice(0, 1000) || undefined };
}

function showMessage(message) {
  const options = {
    body: message.body,
    icon: message.icon,
    badge: message.badge,
    image: message.image,
    // The whole Message: its url for the click, its data for the page that gets focused.
    data: message,
  };
  if (message.tag) {
    // The same tag replaces the earlier notification; renotify alerts the user again.
    options.tag = message.tag;
    options.renotify = true;
  }
  const time = Date.parse(message.createdAt ?? '');
  if (!Number.isNaN(time)) options.timestamp = time;
  return self.registration.showNotification(message.title, options);
}

self.addEventListener('push', (event) => event.waitUntil(showMessage(readMessage(event.data))));

// ---------------------------------------------------------------------------------------------
// click → focus the tab already at the URL, or open it

async function focusOrOpen(url) {
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const open = windows.find((client) => client.url === url);
  return open ? open.focus() : self.clients.openWindow(url);
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = event.notification.data?.url;
  // Relative URLs are paths on this origin (the Event's `url` allows "/invoices/42").
  event.waitUntil(focusOrOpen(new URL(url ?? self.registration.scope, self.location.origin).href));
});

// ---------------------------------------------------------------------------------------------
// what the page told us about its subscription (IndexedDB: a worker has no localStorage)

function openStore() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(STORE.db, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE.table);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function withStore(mode, use) {
  const db = await openStore();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE.table, mode);
      const request = use(tx.objectStore(STORE.table));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

const loadSaved = () => withStore('readonly', (store) => store.get(STORE.key));
const save = (value) => withStore('readwrite', (store) => store.put(value, STORE.key));
const forget = () => withStore('readwrite', (store) => store.delete(STORE.key));

const ANSWERS = {
  'axion-push:get': () => loadSaved().then((saved) => saved ?? null),
  'axion-push:save': (value) => save(value).then(() => null),
  'axion-push:forget': () => forget().then(() => null),
};

self.addEventListener('message', (event) => {
  const answer = ANSWERS[event.data?.type];
  const [port] = event.ports;
  if (!answer || !port) return;
  event.waitUntil(
    answer(event.data.value).then(
      (result) => port.postMessage({ ok: true, result }),
      (err) => port.postMessage({ ok: false, error: String(err) }),
    ),
  );
});

// ---------------------------------------------------------------------------------------------
// pushsubscriptionchange → subscribe again with the same key and tell the API

async function callApi(saved, method, path, body) {
  const headers = { 'content-type': 'application/json' };
  if (saved.token) headers.authorization = `Bearer ${saved.token}`;
  const res = await fetch(`${saved.apiBase}${path}`, { method, headers, credentials: 'include', body: JSON.stringify(body) });
  if (!res.ok && res.status !== 404) throw new Error(`${method} ${path} answered ${res.status}`);
}

function base64UrlToBytes(text) {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(text.length / 4) * 4, '=');
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

async function renew(oldSubscription, newSubscription) {
  const saved = await loadSaved();
  if (!saved) return; // Never subscribed through axion-push.js, or unsubscribed since.
  const subscription =
    newSubscription ??
    (await self.registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: base64UrlToBytes(saved.applicationServerKey),
    }));
  const body = { ...subscription.toJSON(), package: saved.package, applicationServerKey: saved.applicationServerKey };
  if (saved.module) body.module = saved.module;
  await callApi(saved, 'POST', '/v1/subscriptions', body);
  const oldEndpoint = oldSubscription?.endpoint ?? saved.endpoint;
  if (oldEndpoint && oldEndpoint !== subscription.endpoint) {
    await callApi(saved, 'DELETE', '/v1/subscriptions', { package: saved.package, endpoint: oldEndpoint });
  }
  await save({ ...saved, endpoint: subscription.endpoint });
}

self.addEventListener('pushsubscriptionchange', (event) => {
  event.waitUntil(renew(event.oldSubscription ?? null, event.newSubscription ?? null));
});
