import type { Worker } from 'playwright-core';
import type { BrowserKeys } from './web-push-receiver.js';

/** What `PushManager.subscribe` returns in the test: an endpoint of the local push service. */
export interface FakeSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/** The public half of a test browser's keys, as `PushSubscription.toJSON()` gives them. */
export function pushedKeys(keys: BrowserKeys): FakeSubscription['keys'] {
  return { p256dh: keys.p256dh, auth: keys.auth };
}

// Browser-side source, kept as text: the TypeScript loader would add helpers of its own to a
// function that is serialised into the page.
const FAKE_SUBSCRIBE = `(fake) => {
  const toBase64Url = (bytes) =>
    btoa(String.fromCharCode(...bytes)).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  PushManager.prototype.subscribe = async function (options) {
    const key = new Uint8Array(options.applicationServerKey.buffer ?? options.applicationServerKey);
    globalThis.__subscribedWith = { userVisibleOnly: options.userVisibleOnly, applicationServerKey: toBase64Url(key) };
    return {
      endpoint: fake.endpoint,
      expirationTime: null,
      options: { userVisibleOnly: true, applicationServerKey: key.buffer },
      toJSON: () => ({ endpoint: fake.endpoint, expirationTime: null, keys: fake.keys }),
      unsubscribe: async () => true,
    };
  };
}`;

/**
 * Replaces `PushManager.prototype.subscribe` in a page or a service worker: Chromium cannot reach
 * a real push service here. Everything else (permission, key fetch, API calls) stays real. The
 * options it was called with are kept in `globalThis.__subscribedWith`, the key as base64url.
 */
export async function fakePushSubscribe(target: { evaluate: Worker['evaluate'] }, subscription: FakeSubscription): Promise<void> {
  await target.evaluate(`(${FAKE_SUBSCRIBE})(${JSON.stringify(subscription)})`);
}
