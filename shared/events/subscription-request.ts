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

/** When a subscription's daily reminder fires: every day at this UTC time. */
const notifyTime = z.strictObject({
  utcHour: z.number().int().min(0).max(23),
  minute: z.number().int().min(0).max(59),
});

/**
 * `POST /v1/subscriptions`: `PushSubscription.toJSON()` plus the package, and optionally a
 * daily reminder (`notifyTime`, `notifyType`, `message`, as the TimeSafari server takes them).
 * The endpoint's policy check needs settings, so it happens in the use-case, not here.
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
  /** `null` removes the subscription's reminder; absent leaves it as it is. */
  notifyTime: notifyTime.nullable().optional(),
  notifyType: z.enum(['DAILY_CHECK', 'DIRECT_NOTIFICATION']).optional(),
  /** Shown by the reminder: the body of a daily check, the text of a direct notification. */
  message: z.string().min(1).max(100).optional(),
}).superRefine((value, ctx) => {
  // A type or a message without a time would be stored and never fire; a time without a type
  // would have to guess which notification the user asked for. Both are refused.
  if (value.notifyTime && !value.notifyType) {
    ctx.addIssue({ code: 'custom', path: ['notifyType'], message: 'required with notifyTime' });
  }
  for (const field of ['notifyType', 'message'] as const) {
    if (value[field] !== undefined && !value.notifyTime) {
      ctx.addIssue({ code: 'custom', path: [field], message: 'needs notifyTime' });
    }
  }
});
export type SubscriptionRequest = z.infer<typeof subscriptionRequestSchema>;

/** `DELETE /v1/subscriptions`. */
export const unsubscribeRequestSchema = z.object({
  package: nameSchema,
  endpoint: z.string().min(1).max(2048),
});
export type UnsubscribeRequest = z.infer<typeof unsubscribeRequestSchema>;
