import { z } from 'zod';
import { eventSchema } from './event.js';
import { messageSchema } from './message.js';
import { nameSchema, targetSchema } from './notification-request.js';

/**
 * A `route` job: an accepted event, already validated and given its id. Jobs are parsed again
 * when taken, because a queue outlives the code that filled it.
 */
export const routeJobSchema = z.object({
  id: z.string().min(1),
  package: nameSchema,
  target: targetSchema,
  event: eventSchema.omit({ id: true }),
  acceptedAt: z.string(),
  source: z.enum(['http', 'mqtt']),
  requestId: z.string().optional(),
});
export type RouteJob = z.infer<typeof routeJobSchema>;

/** A `push` job: deliver one Message to every active subscription of one user. */
export const pushJobSchema = z.object({
  eventId: z.string().min(1),
  package: nameSchema,
  user: nameSchema,
  message: messageSchema,
  ttl: z.number().int().min(0),
  urgency: z.enum(['very-low', 'low', 'normal', 'high']),
  topic: z.string().optional(),
  /** Epoch ms after which a retry is pointless: the TTL has run out. */
  expiresAt: z.number().int(),
  requestId: z.string().optional(),
});
export type PushJob = z.infer<typeof pushJobSchema>;
