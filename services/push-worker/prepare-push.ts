import type { DeliverableSubscription, VapidKey } from '../../shared/database/index.js';
import type { PushJob } from '../../shared/events/index.js';
import { decodeBase64Url } from '../../shared/vapid/index.js';
import { encryptPayload } from './encrypt-payload.js';
import type { VapidAuthorizer } from './vapid-jwt.js';
import type { PushRequest } from './web-push-sender.js';

/**
 * Builds the RFC 8030 request for one subscription: the Message encrypted for that browser
 * (RFC 8291, a fresh key and salt every time), VAPID authorization for the endpoint's origin
 * (RFC 8292), and TTL / Urgency / Topic from the event (RFC 8030 §5.2–5.4).
 */
export function preparePush(
  job: PushJob,
  subscription: DeliverableSubscription,
  key: VapidKey,
  authorizer: VapidAuthorizer,
  now: number,
): PushRequest {
  const p256dh = decodeBase64Url(subscription.p256dh);
  const auth = decodeBase64Url(subscription.auth);
  if (!p256dh || !auth) throw new TypeError('stored subscription keys are not base64url');
  const body = encryptPayload({
    plaintext: Buffer.from(JSON.stringify(job.message), 'utf8'),
    p256dh,
    auth,
  });
  // A retry only has what is left of the event's lifetime.
  const ttl = Math.max(0, Math.floor((job.expiresAt - now) / 1000));
  const headers: Record<string, string> = {
    'content-type': 'application/octet-stream',
    'content-encoding': 'aes128gcm',
    'content-length': String(body.length),
    ttl: String(Math.min(ttl, job.ttl)),
    urgency: job.urgency,
    authorization: authorizer.authorization(new URL(subscription.endpoint).origin, key),
  };
  if (job.topic) headers['topic'] = job.topic;
  return { endpoint: subscription.endpoint, headers, body };
}
