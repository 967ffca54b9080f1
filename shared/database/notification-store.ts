import { In, type DataSource } from 'typeorm';
import { NotificationEntity, type NotificationRow } from '../entities/index.js';
import type { RouteJob } from '../events/index.js';
import { isDuplicateKey } from './subscription-store.js';

/** Accepted events, by id. */
export interface NotificationStore {
  /**
   * Records an accepted event. Returns the row already stored under that id when there is one
   * (a producer retrying), so the caller can tell a retry from a clash.
   */
  record(job: RouteJob): Promise<{ created: true } | { created: false; existing: NotificationRow }>;
  /**
   * Records many accepted events with one insert (rows whose id is taken are left alone) and
   * answers the row stored under each id, new or earlier, for the caller to compare.
   */
  recordMany(jobs: readonly RouteJob[]): Promise<Map<string, NotificationRow>>;
  get(id: string): Promise<NotificationRow | null>;
}

/** The row an accepted event is kept as: target and event as JSON, compared as text on a repeat. */
export function notificationRow(job: RouteJob): NotificationRow {
  return {
    id: job.id,
    package: job.package,
    target: JSON.stringify(job.target),
    event: JSON.stringify(job.event),
    source: job.source,
    createdAt: new Date(job.acceptedAt),
  };
}

export function createNotificationStore(dataSource: DataSource): NotificationStore {
  const repo = dataSource.getRepository(NotificationEntity);
  return {
    async record(job) {
      try {
        await repo.insert(notificationRow(job));
        return { created: true };
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        const existing = await repo.findOneBy({ id: job.id });
        if (!existing) throw err;
        return { created: false, existing };
      }
    },
    async recordMany(jobs) {
      if (jobs.length === 0) return new Map();
      await repo.createQueryBuilder().insert().values(jobs.map(notificationRow)).orIgnore().execute();
      const ids = [...new Set(jobs.map((job) => job.id))];
      const rows = await repo.findBy({ id: In(ids) });
      return new Map(rows.map((row) => [row.id, row]));
    },
    get: (id) => repo.findOneBy({ id }),
  };
}
