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
  /**
   * The MQTT intake already published the Message to the target user's push topic before the
   * event was stored (the realtime fast path): routing only decides and queues Web Push.
   */
  realtimePublished: z.boolean().optional(),
});
export type RouteJob = z.infer<typeof routeJobSchema>;

/**
 * Users per push job. One job per user made the queue, not encryption, the cost of a send;
 * many share one job's queue round trips, subscription query and status update, and the worker
 * encrypts a job's messages in one run before sending them (deliver-push.ts). 400 (one worker's
 * users at once, PUSH_CONCURRENCY 50 × 8) gave about 10% less CPU per message than 100 in
 * bench:push; 1,000 gave no more (docs/performance.md).
 */
export const MAX_USERS_PER_PUSH_JOB = 400;

/** A `push` job: deliver an event's Message to every active subscription of some users. */
export const pushJobSchema = z.object({
  eventId: z.string().min(1),
  package: nameSchema,
  users: z.array(nameSchema).min(1).max(MAX_USERS_PER_PUSH_JOB),
  /** The routing chunk the users came from (before presence): what the job id is made of. */
  chunk: z.array(nameSchema).max(MAX_USERS_PER_PUSH_JOB).optional(),
  /** The Message without its `user`: each user's copy is this plus their name. */
  message: messageSchema.omit({ user: true }),
  ttl: z.number().int().min(0),
  urgency: eventSchema.shape.urgency.unwrap(),
  // The event's rule (RFC 8030 §5.4): the worker sends it as a header as it stands.
  topic: eventSchema.shape.topic,
  /** Epoch ms after which a retry is pointless: the TTL has run out. */
  expiresAt: z.number().int(),
  requestId: z.string().optional(),
  /**
   * Only this subscription (the SHA-256 of its endpoint) of the users: a test push
   * (`POST /v1/subscriptions/test`). Absent: every active subscription.
   */
  endpointHash: z.string().optional(),
});
export type PushJob = z.infer<typeof pushJobSchema>;
