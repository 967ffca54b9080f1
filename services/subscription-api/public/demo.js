// The demo page: sign in as a demo user, subscribe this browser, watch the user's MQTT topic
// live with their inbox's unseen count, and send a test notification through the real API.
// Plain DOM, no framework.
import mqtt from '/vendor/mqtt.esm.js';
import {
  fetchInbox,
  markSeen,
  pushListener,
  registerServiceWorker,
  status,
  subscribe,
  unsubscribe,
} from '/axion-push.js';

const $ = (id) => document.getElementById(id);
const SESSION_KEY = 'axion-push-demo-session';
let session = loadSession();
let feed = null;
/** The newest inbox item's cursor this page has read: where a reconnect catches up from. */
let newestCursor = null;

function loadSession() {
  const stored = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null');
  return stored && Date.parse(stored.expiresAt) > Date.now() ? stored : null;
}

function show(element, text, kind = '') {
  element.textContent = text;
  element.className = `status ${kind}`;
}

async function demoApi(method, path, body) {
  const headers = { 'content-type': 'application/json' };
  if (session) headers.authorization = `Bearer ${session.token}`;
  const res = await fetch(path, { method, headers, body: JSON.stringify(body ?? {}) });
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(answer.error?.message ?? `${res.status} ${res.statusText}`);
  return answer;
}

// --- session -----------------------------------------------------------------------------------

async function signIn(user) {
  try {
    session = await demoApi('POST', '/demo/session', { user });
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  } catch (err) {
    show($('session'), `Sign-in failed: ${err.message}`, 'bad');
    return;
  }
  render();
}

function signOut() {
  sessionStorage.removeItem(SESSION_KEY);
  session = null;
  newestCursor = null;
  render();
}

function render() {
  const signedIn = session !== null;
  $('sign-in').hidden = signedIn;
  $('sign-out').hidden = !signedIn;
  $('user').disabled = signedIn;
  if (signedIn) $('user').value = session.user;
  for (const id of ['send', 'join-group', 'mark-seen']) $(id).disabled = !signedIn;
  show(
    $('session'),
    signedIn
      ? `Signed in as ${session.user} in package "${session.package}" until ${new Date(session.expiresAt).toLocaleTimeString()}.`
      : 'Not signed in.',
    signedIn ? 'ok' : '',
  );
  connectFeed();
  refreshPush();
}

// --- push --------------------------------------------------------------------------------------

async function refreshPush(note) {
  const now = await status();
  const canAct = session !== null && now.supported;
  $('subscribe').disabled = !canAct;
  $('unsubscribe').disabled = !canAct;
  if (note) return;
  if (!now.supported) show($('push-status'), 'This browser cannot receive push notifications here (it needs https:// or localhost).', 'bad');
  else if (now.permission === 'denied') show($('push-status'), 'Notifications are blocked for this site: allow them in the site settings.', 'bad');
  else show($('push-status'), now.subscribed ? 'This browser is subscribed.' : 'This browser is not subscribed.');
}

async function runPush(action) {
  const options = { package: session.package, token: session.token };
  try {
    if (action === 'subscribe') {
      const result = await subscribe(options);
      show($('push-status'), `Subscribed (${result.total} active subscription${result.total === 1 ? '' : 's'} for ${session.user}).`, 'ok');
    } else {
      await unsubscribe(options);
      show($('push-status'), 'Unsubscribed.', 'ok');
    }
  } catch (err) {
    show($('push-status'), err.message, 'bad');
  }
  await refreshPush(true);
}

// --- live feed ---------------------------------------------------------------------------------

function setFeedState(text, live) {
  $('feed-status').textContent = text;
  $('feed-status').className = live ? 'pill live' : 'pill';
}

function connectFeed() {
  feed?.end(true);
  feed = null;
  if (!session) return setFeedState('offline', false);
  if (!session.mqtt) return setFeedState('no WebSocket broker', false);
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  // The broker takes the same JWT as the API: username = user id, password = token.
  feed = mqtt.connect(`${scheme}://${location.hostname}:${session.mqtt.port}${session.mqtt.path}`, {
    clientId: `demo-${session.user}-${Math.random().toString(36).slice(2, 10)}`,
    username: session.user,
    password: session.token,
    reconnectPeriod: 3000,
    // Plain timers: the default runs them in a blob: worker, which the page's CSP refuses.
    timerVariant: 'native',
  });
  const { topic } = session.mqtt;
  feed.on('connect', () => {
    feed.subscribe(topic, { qos: 1 }, (err) => {
      setFeedState(err ? 'refused' : 'live', !err);
      // Subscribed first, then read the inbox: nothing falls between the two.
      if (!err) catchUp();
    });
  });
  feed.on('close', () => setFeedState('offline', false));
  feed.on('error', (err) => setFeedState(err.message, false));
  feed.on('message', pushListener({ onMessage: addToFeed, onUnseen: showUnseen }));
}

function showUnseen(count) {
  $('unseen').textContent = `${count} unseen`;
  $('unseen').dataset.count = String(count);
}

/** What the inbox holds that the feed does not: the latest items, or everything since the last read. */
async function catchUp() {
  const options = { package: session.package, token: session.token };
  const first = newestCursor === null;
  try {
    let page = await fetchInbox({ ...options, limit: 10, ...(first ? {} : { after: newestCursor }) });
    for (let pages = 1; ; pages += 1) {
      for (const item of [...page.items].reverse()) addToFeed(item.message);
      if (page.items.length > 0) newestCursor = page.items[0].cursor;
      showUnseen(page.unseen);
      // The first read shows the latest only; a catch-up follows `next` (a few pages at most).
      if (first || !page.next || pages >= 5) break;
      page = await fetchInbox({ ...options, limit: 10, after: page.next });
    }
  } catch (err) {
    show($('send-status'), `Inbox not read: ${err.message}`, 'bad');
  }
}

async function markAllSeen() {
  const options = { package: session.package, token: session.token };
  try {
    const [newest] = (await fetchInbox({ ...options, limit: 1 })).items;
    if (newest) showUnseen((await markSeen({ ...options, upTo: newest.cursor })).unseen);
  } catch (err) {
    show($('send-status'), `Not marked: ${err.message}`, 'bad');
  }
}

function addToFeed(message) {
  // The same notification from the inbox and live: shown once.
  if ($('feed').querySelector(`li[data-id="${CSS.escape(message.id)}"]`)) return;
  const item = document.createElement('li');
  item.dataset.id = message.id;
  const title = document.createElement('div');
  title.className = 'title';
  title.textContent = message.title;
  const meta = document.createElement('div');
  meta.className = 'meta';
  const when = new Date(message.createdAt).toLocaleTimeString();
  meta.textContent = [when, message.tag && `tag ${message.tag}`, message.url].filter(Boolean).join(' · ');
  item.append(title);
  if (message.body) {
    const body = document.createElement('div');
    body.textContent = message.body;
    item.append(body);
  }
  item.append(meta);
  $('feed').prepend(item);
  $('feed-empty').hidden = true;
}

// --- sending -----------------------------------------------------------------------------------

async function send(form) {
  const fields = Object.fromEntries(new FormData(form));
  const event = { title: fields.title };
  for (const name of ['body', 'url', 'tag']) if (fields[name]) event[name] = fields[name];
  event.to = fields.to === 'group' ? { group: fields.group } : 'me';
  try {
    const { id } = await demoApi('POST', '/demo/notifications', event);
    show($('send-status'), `Accepted as ${id}.`, 'ok');
  } catch (err) {
    show($('send-status'), `Not sent: ${err.message}`, 'bad');
  }
}

async function joinGroup() {
  const group = $('send-form').elements.group.value;
  try {
    await demoApi('PUT', `/demo/groups/${encodeURIComponent(group)}/members/me`);
    show($('send-status'), `${session.user} is a member of group "${group}".`, 'ok');
  } catch (err) {
    show($('send-status'), `Could not join: ${err.message}`, 'bad');
  }
}

$('sign-in-form').addEventListener('submit', (event) => {
  event.preventDefault();
  signIn($('user').value);
});
$('sign-out').addEventListener('click', signOut);
$('subscribe').addEventListener('click', () => runPush('subscribe'));
$('unsubscribe').addEventListener('click', () => runPush('unsubscribe'));
$('join-group').addEventListener('click', joinGroup);
$('mark-seen').addEventListener('click', markAllSeen);
$('send-form').addEventListener('submit', (event) => {
  event.preventDefault();
  send(event.target);
});

// The worker controls the page from its first load, so a push can be shown at any time.
registerServiceWorker()
  .catch((err) => show($('push-status'), err.message, 'bad'))
  .finally(render);
