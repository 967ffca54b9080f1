import { EntitySchema } from 'typeorm';

/** One browser subscription of a user to a package: the contract's `push_subscription`. */
export interface PushSubscriptionRow {
  user: string;
  package: string;
  /** SHA-256 (hex) of `endpoint`: MySQL cannot key a varchar(2048), and a prefix would collide. */
  endpointHash: string;
  endpoint: string;
  module: string | null;
  p256dh: string;
  auth: string;
  userAgent: string | null;
  expirationTime: Date | null;
  vapidKeyId: number | null;
  createdAt: Date;
  updatedAt: Date;
  lastSuccessAt: Date | null;
  failureCount: number;
  active: 'Y' | 'N';
  deactivatedReason: string | null;
  /**
   * The daily reminder (issue 6): at `notifyUtcHour`:`notifyMinute` UTC every day; all four are
   * null when the subscription has none. Optional in the type only, so that rows built by hand
   * before reminders existed still type-check; the database always returns them.
   */
  notifyUtcHour?: number | null;
  notifyMinute?: number | null;
  notifyType?: 'DAILY_CHECK' | 'DIRECT_NOTIFICATION' | null;
  /** Up to 100 characters, shown by the reminder. */
  notifyMessage?: string | null;
}

export const PushSubscriptionEntity = new EntitySchema<PushSubscriptionRow>({
  name: 'PushSubscription',
  tableName: 'push_subscription',
  columns: {
    user: { type: 'varchar', length: 128, primary: true },
    package: { type: 'varchar', length: 128, primary: true },
    endpointHash: { name: 'endpoint_hash', type: 'varchar', length: 64, primary: true },
    endpoint: { type: 'varchar', length: 2048 },
    module: { type: 'varchar', length: 128, nullable: true },
    p256dh: { type: 'varchar', length: 128 },
    auth: { type: 'varchar', length: 64 },
    userAgent: { name: 'user_agent', type: 'varchar', length: 512, nullable: true },
    expirationTime: { name: 'expiration_time', type: 'datetime', precision: 3, nullable: true },
    vapidKeyId: { name: 'vapid_key_id', type: 'int', nullable: true },
    createdAt: { name: 'created_at', type: 'datetime', precision: 3 },
    updatedAt: { name: 'updated_at', type: 'datetime', precision: 3 },
    lastSuccessAt: { name: 'last_success_at', type: 'datetime', precision: 3, nullable: true },
    failureCount: { name: 'failure_count', type: 'int', default: 0 },
    active: { type: 'varchar', length: 1, default: 'Y' },
    deactivatedReason: { name: 'deactivated_reason', type: 'varchar', length: 64, nullable: true },
    notifyUtcHour: { name: 'notify_utc_hour', type: 'int', nullable: true },
    notifyMinute: { name: 'notify_minute', type: 'int', nullable: true },
    notifyType: { name: 'notify_type', type: 'varchar', length: 32, nullable: true },
    notifyMessage: { name: 'notify_message', type: 'varchar', length: 100, nullable: true },
  },
});
