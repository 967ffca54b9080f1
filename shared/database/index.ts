export { createDataSource, runMigrations, databaseKind } from './create-data-source.js';
export type { DatabaseKind } from './create-data-source.js';
export {
  createSubscriptionStore,
  hashEndpoint,
  isDuplicateKey,
} from './subscription-store.js';
export type {
  SubscriptionStore,
  SubscriptionView,
  SubscriptionKey,
  DeliverableSubscription,
  UpsertSubscription,
} from './subscription-store.js';
export { createVapidKeyStore } from './vapid-key-store.js';
export type { VapidKeyStore, VapidKey, VapidKeyPair, VapidKeyStoreOptions } from './vapid-key-store.js';
export { createNotificationStore, notificationRow } from './notification-store.js';
export type { NotificationStore } from './notification-store.js';
export { createNotificationRetentionStore } from './notification-retention-store.js';
export type { NotificationPosition, NotificationRetentionStore } from './notification-retention-store.js';
export { startDatabase } from './start-database.js';
export { failFastWhileUnreachable, UNREACHABLE_PAUSE_MS } from './fail-fast.js';
export type { Database } from './start-database.js';
export { createGroupStore } from './group-store.js';
export type { GroupStore, MemberPageOptions } from './group-store.js';
export { createInboxStore } from './inbox-store.js';
export type {
  InboxStore,
  InboxEntry,
  InboxPosition,
  InboxState,
  InboxPageQuery,
  InboxItemView,
  SeenSelection,
} from './inbox-store.js';
