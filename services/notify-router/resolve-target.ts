import type { GroupStore } from '../../shared/database/index.js';
import { usersOf, type Target } from '../../shared/events/index.js';

/** Calls `each` with the target's users, a batch at a time. */
export type ResolveTarget = (
  pkg: string,
  target: Target,
  each: (users: string[]) => Promise<void>,
) => Promise<void>;

/** Users a routing step holds at once: a group of 100,000 never sits in memory whole. */
export const ROUTE_BATCH_USERS = 1_000;

/**
 * Named users are one batch; a group streams its members, and "all" every user of the package
 * with an active subscription, each in keyset-ordered batches, so routing again walks the same
 * batches (and makes the same push job ids) while membership is unchanged.
 */
export function createTargetResolver(
  groups: Pick<GroupStore, 'forEachBatch' | 'forEachActiveUserBatch'>,
  batchSize = ROUTE_BATCH_USERS,
): ResolveTarget {
  return async (pkg, target, each) => {
    const named = usersOf(target);
    if (named) return each(named);
    if ('group' in target) return groups.forEachBatch(pkg, target.group, batchSize, each);
    return groups.forEachActiveUserBatch(pkg, batchSize, each);
  };
}
