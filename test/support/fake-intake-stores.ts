import { notificationRow, type NotificationStore } from '../../shared/database/index.js';
import type { NotificationRow } from '../../shared/entities/index.js';
import type { RouteJob } from '../../shared/events/index.js';
import type { RouteQueue } from '../../shared/queue/index.js';

/** Accepted events by id, as the real store keeps them: the first row under an id wins. */
export class InMemoryNotificationStore implements NotificationStore {
  readonly rows = new Map<string, NotificationRow>();
  /** Set to make the next calls fail, as a database that is down does. */
  failWith: Error | null = null;

  async record(job: RouteJob): ReturnType<NotificationStore['record']> {
    this.failIfAsked();
    const existing = this.rows.get(job.id);
    if (existing) return { created: false, existing: { ...existing } };
    this.rows.set(job.id, notificationRow(job));
    return { created: true };
  }

  async recordMany(jobs: readonly RouteJob[]): Promise<'created' | Map<string, NotificationRow>> {
    this.failIfAsked();
    let taken = false;
    for (const job of jobs) {
      if (this.rows.has(job.id)) taken = true;
      else this.rows.set(job.id, notificationRow(job));
    }
    if (!taken) return 'created';
    return new Map(jobs.map((job) => [job.id, { ...this.rows.get(job.id)! }]));
  }

  async get(id: string): Promise<NotificationRow | null> {
    this.failIfAsked();
    const row = this.rows.get(id);
    return row ? { ...row } : null;
  }

  private failIfAsked(): void {
    if (this.failWith) throw this.failWith;
  }
}

/** Keeps what was added, in order. */
export class RecordingRouteQueue implements RouteQueue {
  readonly added: { job: RouteJob; delayMs: number }[] = [];

  async add(job: RouteJob, delayMs: number): Promise<void> {
    this.added.push({ job: structuredClone(job), delayMs });
  }

  async addBulk(jobs: readonly RouteJob[]): Promise<void> {
    for (const job of jobs) this.added.push({ job: structuredClone(job), delayMs: 0 });
  }

  cancel(): Promise<never> {
    throw new Error('RouteQueue.cancel was not expected');
  }

  cancelledAt(): Promise<never> {
    throw new Error('RouteQueue.cancelledAt was not expected');
  }

  holding(): Promise<never> {
    throw new Error('RouteQueue.holding was not expected');
  }

  addPush(): Promise<never> {
    throw new Error('RouteQueue.addPush was not expected');
  }

  close(): Promise<void> {
    throw new Error('RouteQueue.close was not expected');
  }
}

/** Keeps what routing put in users' inboxes, one array per call. */
export class RecordingInbox {
  readonly calls: { notificationId: string; package: string; user: string }[][] = [];
  /** Set to make the next calls fail, as a database that is down does. */
  failWith: Error | null = null;

  /** Users whose counts were published, by call: `package/user`. */
  readonly published: string[][] = [];
  /** Set to make publishing counts fail, as a broker that is down does. */
  publishFailsWith: Error | null = null;

  async add(entries: readonly { notificationId: string; package: string; user: string }[]): Promise<Map<string, string[]>> {
    if (this.failWith) throw this.failWith;
    if (entries.length > 0) this.calls.push(entries.map((e) => ({ ...e })));
    const byPackage = new Map<string, string[]>();
    for (const e of entries) byPackage.set(e.package, [...new Set([...(byPackage.get(e.package) ?? []), e.user])]);
    return byPackage;
  }

  async publishUnseen(pkg: string, users: readonly string[]): Promise<void> {
    if (this.publishFailsWith) throw this.publishFailsWith;
    this.published.push(users.map((user) => `${pkg}/${user}`));
  }
}
