export { connectRedis } from './redis-connection.js';
export {
  createRouteQueue,
  createPushQueue,
  DEDUPLICATION_WINDOW_SECONDS,
} from './queues.js';
export type { RouteQueue, PushQueue, QueueSettings } from './queues.js';
