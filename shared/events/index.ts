export { eventSchema, eventIdSchema, MAX_TTL_SECONDS, DEFAULT_TTL_SECONDS } from './event.js';
export type { Event, EventInput } from './event.js';
export {
  messageSchema,
  unseenMessageSchema,
  buildMessage,
  messageFor,
  messageBytes,
  MAX_MESSAGE_BYTES,
} from './message.js';
export type { Message, UnseenMessage } from './message.js';
export {
  notificationRequestSchema,
  targetSchema,
  nameSchema,
  usersOf,
} from './notification-request.js';
export type { NotificationRequest, Target } from './notification-request.js';
export { routeJobSchema, pushJobSchema, MAX_USERS_PER_PUSH_JOB } from './jobs.js';
export type { RouteJob, PushJob } from './jobs.js';
export { parseOrThrow } from './parse.js';
export { subscriptionRequestSchema, unsubscribeRequestSchema } from './subscription-request.js';
export type { SubscriptionRequest, UnsubscribeRequest } from './subscription-request.js';
export { MAX_JSON_DEPTH, jsonTextProblem, nestsDeeperThan, readJson } from './read-json.js';
export type { JsonRead, JsonTextProblem } from './read-json.js';
