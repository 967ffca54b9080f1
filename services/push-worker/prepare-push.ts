import type { DeliverableSubscription } from '../../shared/database/index.js';
import { messageFor, type PushJob } from '../../shared/events/index.js';
import { decodeBase64Url } from '../../shared/vapid/index.js';
import { encryptPayload } from './encrypt-payload.js';
import type { PushRequest } from './web-push-sender.js';

/**
 * The Message encrypted for one browser (RFC 8291: a fresh key pair and salt every time).
 * Throws a TypeError when the subscription's keys cannot be used: that browser must subscribe
 * again.
 */
export function encryptMessage(plaintext: Buffer, subscription: DeliverableSubscription): Buffer {
  const p256dh = decodeBase64Url(subscription.p256dh);
  const auth = decodeBase64Url(subscription.auth);
  if (!p256dh || !auth) throw new TypeError('stored subscription keys are not base64url');
  return encryptPayload({ plaintext, p256dh, auth });
}

/** Where a Message's JSON holds its user: right after `id` and `package`, both strings. */
const EMPTY_USER = '"user":""';

/**
 * Each user's Message as JSON bytes. A job's Messages differ only in `user`, so the JSON is
 * made once with an empty user and each name is put in its place: the same bytes as
 * `JSON.stringify(messageFor(…))` for about a sixth of the cost, once per browser.
 */
export function createPlaintexts(job: PushJob): (user: string) => Buffer {
  const json = JSON.stringify(messageFor(job.message, ''));
  const at = json.indexOf(EMPTY_USER);
  if (at < 0) throw new Error('a Message without its user field');
  const before = `${json.slice(0, at)}"user":`;
  const after = json.slice(at + EMPTY_USER.length);
  return (user) => Buffer.from(before + JSON.stringify(user) + after, 'utf8');
}

/**
 * The RFC 8030 request: the encrypted body, VAPID authorization (RFC 8292) and TTL / Urgency /
 * Topic from the event (RFC 8030 §5.2–5.4).
 */
export function pushRequest(
  job: PushJob,
  endpoint: string,
  body: Buffer,
  authorization: string,
  now: number,
  url?: URL,
): PushRequest {
  // A retry only has what is left of the event's lifetime.
  const remaining = Math.max(0, Math.floor((job.expiresAt - now) / 1000));
  const headers: Record<string, string> = {
    'content-type': 'application/octet-stream',
    'content-encoding': 'aes128gcm',
    'content-length': String(body.length),
    ttl: String(Math.min(remaining, job.ttl)),
    urgency: job.urgency,
    authorization,
  };
  if (job.topic) headers['topic'] = job.topic;
  return url ? { endpoint, url, headers, body } : { endpoint, headers, body };
}
