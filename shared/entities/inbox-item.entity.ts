import { EntitySchema } from 'typeorm';

/** One notification in one user's inbox: the contract's `inbox_item` (notification × user). */
export interface InboxItemRow {
  /** Auto-increment; the tie-breaker of keyset paging when two items share `createdAt`. */
  id: string;
  notificationId: string;
  package: string;
  user: string;
  /** When the router put the item in the inbox (what `after` catch-up pages by). */
  createdAt: Date;
  /** Null while unseen; seen items are purged after `INBOX_SEEN_RETENTION_DAYS`. */
  seenAt: Date | null;
}

export const InboxItemEntity = new EntitySchema<InboxItemRow>({
  name: 'InboxItem',
  tableName: 'inbox_item',
  columns: {
    id: { type: 'bigint', primary: true, generated: 'increment' },
    notificationId: { name: 'notification_id', type: 'varchar', length: 128 },
    package: { type: 'varchar', length: 128 },
    user: { type: 'varchar', length: 128 },
    createdAt: { name: 'created_at', type: 'datetime', precision: 3 },
    seenAt: { name: 'seen_at', type: 'datetime', precision: 3, nullable: true },
  },
});
