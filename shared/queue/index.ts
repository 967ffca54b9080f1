export { connectRedis } from './redis-connection.js';
export {
  createRouteQueue,
  createPushQueue,
  openQueue,
  subscriptionPushJob,
  DEDUPLICATION_WINDOW_SECONDS,
} from './queues.js';
export type { RouteQueue, PushQueue, QueueSettings } from './queues.js';
export {
  createReminderSchedules,
  dailyPattern,
  reminderOf,
  reminderJobSchema,
} from './reminders.js';
export type {
  DailyReminder,
  ReminderTime,
  ReminderJob,
  ReminderSchedules,
  ReminderSettings,
} from './reminders.js';
export { createInboxQueue, inboxUnseenJobSchema, INBOX_JOBS } from './inbox.js';
export type { InboxQueue, InboxUnseenJob } from './inbox.js';
