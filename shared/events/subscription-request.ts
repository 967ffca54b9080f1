import { z } from 'zod';
import { decodeBase64Url, isP256PublicKey } from '../vapid/index.js';
import { nameSchema } from './notification-request.js';

const p256dh = z.string().refine((value) => {
  const bytes = decodeBase64Url(value);
  return bytes !== null && isP256PublicKey(bytes);
}, 'must be base64url of a 65-byte uncompressed P-256 point on the curve');

// RFC 8291 §3.2: the authentication secret is 16 random bytes.
const authSecret = z.string().refine((value) => decodeBase64Url(value)?.length === 16, {
  message: 'must be base64url of 16 bytes',
});

/**
 * `POST /v1/subscriptions`: `PushSubscription.toJSON()` plus the package. The endpoint's
 * policy check needs settings, so it happens in the use-case, not here.
 */
export const subscriptionRequestSchema = z.object({
  endpoint: z.string().min(1).max(2048),
  // Epoch milliseconds; beyond year 9999 no database can store it as a date.
  expirationTime: z.number().int().nonnegative().max(253_402_300_799_000).nullable().optional(),
  keys: z.object({ p256dh, auth: authSecret }),
  package: nameSchema,
  module: z.string().max(128).optional(),
  /**
   * The `applicationServerKey` the browser subscribed with. Optional: without it the package's
   * current key is assumed, which is wrong only if a rotation happened in between.
   */
  applicationServerKey: p256dh.optional(),
});
export type SubscriptionRequest = z.infer<typeof subscriptionRequestSchema>;

/** `DELETE /v1/subscriptions`. */
export const unsubscribeRequestSchema = z.object({
  package: nameSchema,
  endpoint: z.string().min(1).max(2048),
});
export type UnsubscribeRequest = z.infer<typeof unsubscribeRequestSchema>;
