import { z } from 'zod';

/** RFC 8030 §5.2: push services keep messages at most this long; ours is the same ceiling. */
export const MAX_TTL_SECONDS = 28 * 24 * 3600;
export const DEFAULT_TTL_SECONDS = 86_400;

const text = (max: number) =>
  z
    .string()
    .max(max)
    // Control characters other than tab/newline break notification UIs and log lines.
    .refine((s) => !/[\u0000-\u0008\u000b-\u001f\u007f]/.test(s), 'must not contain control characters');

/** Absolute http(s) URL, or a path that the service worker resolves against its own origin. */
const link = z
  .string()
  .max(2048)
  .refine((value) => {
    if (value.startsWith('/') && !value.startsWith('//')) return true;
    try {
      const url = new URL(value);
      return url.protocol === 'https:' || url.protocol === 'http:';
    } catch {
      return false;
    }
  }, 'must be an http(s) URL or a path starting with /');

export const eventIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

/** What producers send: the contract's Event. */
export const eventSchema = z.strictObject({
  id: eventIdSchema.optional(),
  title: text(200).min(1),
  body: text(1000).optional(),
  url: link.optional(),
  icon: link.optional(),
  badge: link.optional(),
  image: link.optional(),
  tag: text(128).optional(),
  data: z.record(z.string(), z.unknown()).optional(),
  ttl: z.number().int().min(0).max(MAX_TTL_SECONDS).default(DEFAULT_TTL_SECONDS),
  urgency: z.enum(['very-low', 'low', 'normal', 'high']).default('normal'),
  // RFC 8030 §5.4: a Topic is at most 32 characters of the URL-safe base64 alphabet.
  topic: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be 1-32 URL-safe base64 characters').optional(),
  delivery: z.enum(['offline', 'always', 'realtime']).default('offline'),
  sendAt: z.iso.datetime({ offset: true }).optional(),
});

export type EventInput = z.input<typeof eventSchema>;
export type Event = z.output<typeof eventSchema>;
