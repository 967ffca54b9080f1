import { GroupMemberEntity } from './group-member.entity.js';
import { InboxItemEntity } from './inbox-item.entity.js';
import { NotificationEntity } from './notification.entity.js';
import { PushSubscriptionEntity } from './push-subscription.entity.js';
import { VapidKeyEntity } from './vapid-key.entity.js';

export { GroupMemberEntity, InboxItemEntity, NotificationEntity, PushSubscriptionEntity, VapidKeyEntity };
export type { GroupMemberRow } from './group-member.entity.js';
export type { InboxItemRow } from './inbox-item.entity.js';
export type { NotificationRow } from './notification.entity.js';
export type { PushSubscriptionRow } from './push-subscription.entity.js';
export type { VapidKeyRow } from './vapid-key.entity.js';

/** Every entity, for the data source. */
export const ENTITIES = [PushSubscriptionEntity, VapidKeyEntity, NotificationEntity, GroupMemberEntity, InboxItemEntity];
