import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createNotificationStore, createSubscriptionStore } from '../shared/database/index.js';
import { createDeliveryStatus, type DeliveryCounts } from '../shared/delivery-status/index.js';
import type { NotificationRequest } from '../shared/events/index.js';
import { acceptEvent } from '../shared/intake/index.js';
import { createRouteQueue } from '../shared/queue/index.js';
import { CliError } from './cli-error.js';
import { loadCliConfig, withSystem, type System } from './open-system.js';

/** `send`: a validated request into the running system; prints its id. */
export async function sendNotification(request: NotificationRequest): Promise<void> {
  await withSystem(loadCliConfig(), async (system) => console.log(await accept(system, request)));
}

/**
 * `test-push`: a request for one user (delivery `always`) into the running system, refused
 * when the user has no active subscription to test; prints its id, and with `waitMs` the
 * push services' answers.
 */
export async function sendTestPush(
  request: NotificationRequest & { target: { user: string } },
  waitMs: number | undefined,
): Promise<void> {
  await withSystem(loadCliConfig(), async (system) => {
    const { user } = request.target;
    const active = await createSubscriptionStore(system.dataSource).countActive(user, request.package);
    if (active === 0) throw new CliError(`${user} has no active subscription in package ${request.package}: nothing to test`);
    const id = await accept(system, request);
    console.log(id);
    if (waitMs !== undefined) await reportDelivery(system, id, waitMs);
  });
}

/** Through `acceptEvent`, as the HTTP intake does: stored and queued for the routers. */
async function accept(system: System, request: NotificationRequest): Promise<string> {
  const { package: pkg, target, ...event } = request;
  const { redis, config, log, dataSource } = system;
  const routeQueue = createRouteQueue({ connection: redis, prefix: config.redis.queuePrefix, log });
  try {
    const deps = { notifications: createNotificationStore(dataSource), routeQueue, log };
    // `http`: route jobs know two sources, and the CLI's events take the HTTP intake's path.
    const { id } = await acceptEvent(deps, { package: pkg, target, event, source: 'http', requestId: `cli-${randomUUID()}` });
    return id;
  } finally {
    await routeQueue.close();
  }
}

/**
 * Polls the event's delivery status until every queued push job finished, then prints the
 * outcome per subscription. Fails (exit 1) when none accepted it or time ran out.
 */
async function reportDelivery(system: System, id: string, timeoutMs: number): Promise<void> {
  const status = createDeliveryStatus(system.redis, system.config.redis.queuePrefix);
  const deadline = Date.now() + timeoutMs;
  let counts: DeliveryCounts;
  for (;;) {
    counts = await status.get(id);
    if (counts.pushQueued > 0 && counts.pushDone >= counts.pushQueued) break;
    if (Date.now() > deadline) {
      throw new CliError(`no outcome within ${timeoutMs / 1000} s (${summary(counts)}): are the notify-router and push-worker running?`);
    }
    await sleep(200);
  }
  console.log(summary(counts));
  if (counts.sent === 0) throw new CliError('no subscription accepted the test push');
}

function summary(c: DeliveryCounts): string {
  return `sent ${c.sent}, failed ${c.failed}, expired ${c.expired}, cleaned ${c.cleaned}`;
}
