import { InitialSchema1764000000000 } from './1764000000000-initial-schema.js';
import { GroupMembers1764100000000 } from './1764100000000-group-members.js';
import { CaseSensitiveNames1764200000000 } from './1764200000000-case-sensitive-names.js';
import { SubscriptionReminders1764300000000 } from './1764300000000-subscription-reminders.js';
import { ExactEventIds1764400000000 } from './1764400000000-exact-event-ids.js';
import { InboxItems1764500000000 } from './1764500000000-inbox-items.js';
import { NotificationRetention1764600000000 } from './1764600000000-notification-retention.js';

/** Every migration, oldest first. Never edit one that has shipped: add a new one. */
export const MIGRATIONS = [
  InitialSchema1764000000000,
  GroupMembers1764100000000,
  CaseSensitiveNames1764200000000,
  SubscriptionReminders1764300000000,
  ExactEventIds1764400000000,
  InboxItems1764500000000,
  NotificationRetention1764600000000,
];
