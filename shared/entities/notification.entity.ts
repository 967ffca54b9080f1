import { EntitySchema } from 'typeorm';

/** An accepted event: kept so that a repeated id is answered, not routed, again. */
export interface NotificationRow {
  id: string;
  package: string;
  /** JSON of the target. */
  target: string;
  /** JSON of the validated event (without its id). */
  event: string;
  source: 'http' | 'mqtt';
  createdAt: Date;
}

export const NotificationEntity = new EntitySchema<NotificationRow>({
  name: 'Notification',
  tableName: 'notification',
  columns: {
    id: { type: 'varchar', length: 128, primary: true },
    package: { type: 'varchar', length: 128 },
    target: { type: 'text' },
    event: { type: 'text' },
    source: { type: 'varchar', length: 8 },
    createdAt: { name: 'created_at', type: 'datetime', precision: 3 },
  },
});
