import type { DeliveryStatus } from '../../shared/delivery-status/index.js';
import type { PresenceReader } from '../../shared/presence/index.js';
import {
  buildMessage,
  messageFor,
  MAX_USERS_PER_PUSH_JOB,
  type PushJob,
  type RouteJob,
} from '../../shared/events/index.js';
import type { Logger } from '../../shared/logging/index.js';
import type { PushQueue } from '../../shared/queue/index.js';
import type { Topics } from '../../shared/topics/index.js';
import type { InboxWriter } from './inbox-writer.js';
import type { RealtimePublisher } from './realtime-publisher.js';
import type { ResolveTarget } from './resolve-target.js';

/** How long a push job may still be attempted when the event's TTL is shorter. */
export const MIN_DELIVERY_WINDOW_MS = 30_000;

export interface RouteEventDeps {
  realtime: Pick<RealtimePublisher, 'publish'>;
  inbox: Pick<InboxWriter, 'add' | 'publishUnseen'>;
  resolveTarget: ResolveTarget;
  presence: PresenceReader;
  status: Pick<DeliveryStatus, 'set'>;
  pushQueue: PushQueue;
  topics: Topics;
  log: Logger;
}

export interface RouteOutcome {
  realtime: number;
  pushQueued: number;
}

/**
 * Routes one accepted event: each target user gets the Message on their push topic (QoS 1),
 * an inbox item (then their unseen count on the same topic), and a push job unless the event
 * is realtime-only. Safe to run again for the same event: push jobs have deterministic ids and
 * inbox items are keyed by (event, user), so a retried route queues and stores nothing twice
 * (a realtime message may repeat; dashboards de-duplicate by Message id).
 *
 * Delivery policy: `always` queues Web Push for everyone, `realtime` for no one, and `offline`
 * (the default) only for users with no live session subscribed to their push topic.
 */
export async function routeEvent(deps: RouteEventDeps, job: RouteJob): Promise<RouteOutcome> {
  const { event } = job;
  // RFC 8030 §5.2: the TTL runs from when the message is sent; a scheduled event is sent at
  // its sendAt, not when it was accepted.
  // A TTL of 0 tells the push service "now or never"; the message still has to leave us, so
  // delivery gets a short window of its own (the TTL header stays 0).
  const lifetimeMs = Math.max(event.ttl * 1000, MIN_DELIVERY_WINDOW_MS);
  const expiresAt = Date.parse(event.sendAt ?? job.acceptedAt) + lifetimeMs;
  const template = buildMessage(event, { id: job.id, package: job.package, user: '', createdAt: job.acceptedAt });
  const { user: _none, ...withoutUser } = template;
  const outcome = { realtime: 0, pushQueued: 0, pushSkippedOnline: 0 };

  // A batch's counts are in flight while the next batch is routed; at most one batch's wait
  // at a time, so a fan-out never holds more than two batches of users.
  let counting: Promise<unknown> = Promise.resolve();
  await deps.resolveTarget(job.package, job.target, async (users) => {
    // The Messages (unless the MQTT intake's fast path already published them), the inbox
    // items and the presence read go out together: none needs another's answer.
    const [, changed, pushList] = await Promise.all([
      job.realtimePublished
        ? undefined
        : Promise.all(
            users.map((user) =>
              deps.realtime.publish(deps.topics.push(job.package, user), JSON.stringify(messageFor(withoutUser, user))),
            ),
          ),
      deps.inbox.add(users.map((user) => ({ notificationId: job.id, package: job.package, user }))),
      usersForPush(deps, job.package, event.delivery, users),
    ]);
    const pushUsers = new Set(pushList);
    const pushJobs: PushJob[] = [];
    // Chunks are cut from the batch before presence is applied and keyed by the whole chunk:
    // routing again after someone came online makes the same job ids, never a second push.
    for (let i = 0; i < users.length; i += MAX_USERS_PER_PUSH_JOB) {
      const chunk = users.slice(i, i + MAX_USERS_PER_PUSH_JOB);
      const chunkPushUsers = chunk.filter((user) => pushUsers.has(user));
      if (chunkPushUsers.length === 0) continue;
      pushJobs.push({
        eventId: job.id,
        package: job.package,
        users: chunkPushUsers,
        chunk,
        message: withoutUser,
        ttl: event.ttl,
        urgency: event.urgency,
        topic: event.topic,
        expiresAt,
        requestId: job.requestId,
      });
    }
    await deps.pushQueue.addBulk(pushJobs);
    // The counts follow the batch's Messages and are asked for once the push jobs are queued (a
    // count's read need not hold a fan-out's Web Push), even when nothing new went in: a retry
    // after a failed publish inserts nothing, and its users must still get their count. The job
    // waits for them (a failed one retries it), so it ends the window at once (`now`).
    await counting;
    counting = Promise.all([...changed].map(([pkg, batchUsers]) => deps.inbox.publishUnseen(pkg, batchUsers, { now: true })));
    counting.catch(() => undefined);
    outcome.realtime += users.length;
    outcome.pushQueued += pushUsers.size;
    // Users that `offline` left to their live dashboards.
    if (event.delivery === 'offline') outcome.pushSkippedOnline += users.length - pushUsers.size;
  });
  // The job finishes once every count is out: one that failed retries the route job.
  await counting;
  // Counted in users, as the workers count pushDone; set, not added, so a retry changes nothing.
  await deps.status.set(job.id, outcome);
  deps.log.info({ eventId: job.id, package: job.package, ...outcome, requestId: job.requestId }, 'event routed');
  return outcome;
}

async function usersForPush(
  deps: Pick<RouteEventDeps, 'presence'>,
  pkg: string,
  delivery: RouteJob['event']['delivery'],
  users: readonly string[],
): Promise<string[]> {
  if (delivery === 'realtime') return [];
  if (delivery === 'always') return [...users];
  const online = await deps.presence.online(pkg, users);
  return users.filter((user) => !online.has(user));
}
