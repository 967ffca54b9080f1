export { NAME_PATTERN, isValidName } from './names.js';
export { createTopics, isValidTopicRoot } from './topics.js';
export type { Topics, NotifyTarget, ParsedNotifyTopic } from './topics.js';
export {
  QUEUE_NAMES,
  DEFAULT_QUEUE_PREFIX,
  routeJobId,
  pushJobId,
  reminderSchedulerId,
  reminderEventId,
  INBOX_PURGE_SCHEDULER_ID,
} from './queues.js';
