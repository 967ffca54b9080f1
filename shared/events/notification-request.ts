import { z } from 'zod';
import { NAME_PATTERN } from '../topics/index.js';
import { eventSchema } from './event.js';

export const nameSchema = z
  .string()
  .regex(NAME_PATTERN, 'must be 1-128 characters of [A-Za-z0-9._@-]');

/** Who an accepted event is for. Groups and "all" are resolved by the router, in batches. */
export const targetSchema = z.union([
  z.strictObject({ user: nameSchema }),
  z.strictObject({ group: nameSchema }),
  z.strictObject({ all: z.literal(true) }),
  z.strictObject({
    users: z
      .array(nameSchema)
      .min(1)
      .max(1000)
      .refine((u) => new Set(u).size === u.length, 'must not repeat a user'),
  }),
]);
export type Target = z.infer<typeof targetSchema>;

/** `POST /v1/notifications`: the Event plus its package and target. */
export const notificationRequestSchema = eventSchema.extend({
  package: nameSchema,
  target: targetSchema,
});
export type NotificationRequest = z.output<typeof notificationRequestSchema>;

/** The users a target names itself, in order; `null` for a group or "all" (resolved later). */
export function usersOf(target: Target): string[] | null {
  if ('user' in target) return [target.user];
  if ('users' in target) return target.users;
  return null;
}
