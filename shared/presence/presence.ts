import type { Redis } from 'ioredis';

/**
 * Who is online: a user is online while at least one authenticated session of theirs is
 * subscribed to their push topic. Each entry is `<brokerId>/<clientId>` in a sorted set per
 * (package, user), scored with the time it stops counting: brokers refresh their entries on a
 * heartbeat, so the entries of a broker that died stop counting within `ttlMs`.
 */
export interface PresenceReader {
  /** The users of `users` that are online now. */
  online(pkg: string, users: readonly string[]): Promise<Set<string>>;
}

export interface PresenceTracker {
  join(pkg: string, user: string, clientId: string): void;
  leave(pkg: string, user: string, clientId: string): void;
  /** Everything a disconnected client held. */
  leaveClient(clientId: string): void;
  close(): Promise<void>;
}

export const PRESENCE_TTL_MS = 30_000;
const keyOf = (prefix: string, pkg: string, user: string) => `${prefix}:presence:${pkg}:${user}`;

export function createPresenceReader(redis: Redis, prefix: string, now: () => number = Date.now): PresenceReader {
  return {
    async online(pkg, users) {
      if (users.length === 0) return new Set();
      const pipeline = redis.pipeline();
      for (const user of users) pipeline.zcount(keyOf(prefix, pkg, user), now(), '+inf');
      const results = (await pipeline.exec()) ?? [];
      const online = new Set<string>();
      results.forEach(([err, count], i) => {
        if (err) throw err;
        if (Number(count) > 0) online.add(users[i]!);
      });
      return online;
    },
  };
}

/**
 * The broker's side. Writes go out in the background (presence must never slow a CONNECT or a
 * SUBSCRIBE); a failed write is logged by the caller's `onError` and repaired by the next
 * heartbeat.
 */
export function createPresenceTracker(options: {
  redis: Redis;
  prefix: string;
  brokerId: string;
  ttlMs?: number;
  heartbeatMs?: number;
  onError: (err: unknown) => void;
  now?: () => number;
}): PresenceTracker {
  const { redis, prefix, brokerId, onError } = options;
  const ttlMs = options.ttlMs ?? PRESENCE_TTL_MS;
  const now = options.now ?? Date.now;
  /** key -> members held by this broker; clientId -> keys it joined. */
  const held = new Map<string, Set<string>>();
  const byClient = new Map<string, Set<string>>();
  const member = (clientId: string) => `${brokerId}/${clientId}`;

  const write = (work: Promise<unknown>) => void work.catch(onError);
  const refresh = () => {
    if (held.size === 0) return;
    const pipeline = redis.pipeline();
    const until = now() + ttlMs;
    for (const [key, members] of held) {
      for (const m of members) pipeline.zadd(key, until, m);
      pipeline.zremrangebyscore(key, '-inf', now());
      pipeline.pexpire(key, ttlMs * 2);
    }
    write(pipeline.exec());
  };
  const timer = setInterval(refresh, options.heartbeatMs ?? ttlMs / 3);
  timer.unref();

  const remove = (key: string, clientId: string) => {
    held.get(key)?.delete(member(clientId));
    if (held.get(key)?.size === 0) held.delete(key);
    write(redis.zrem(key, member(clientId)));
  };

  return {
    join(pkg, user, clientId) {
      const key = keyOf(prefix, pkg, user);
      if (!held.has(key)) held.set(key, new Set());
      held.get(key)!.add(member(clientId));
      if (!byClient.has(clientId)) byClient.set(clientId, new Set());
      byClient.get(clientId)!.add(key);
      write(redis.multi().zadd(key, now() + ttlMs, member(clientId)).pexpire(key, ttlMs * 2).exec());
    },
    leave(pkg, user, clientId) {
      const key = keyOf(prefix, pkg, user);
      byClient.get(clientId)?.delete(key);
      remove(key, clientId);
    },
    leaveClient(clientId) {
      for (const key of byClient.get(clientId) ?? []) remove(key, clientId);
      byClient.delete(clientId);
    },
    async close() {
      clearInterval(timer);
      // A clean shutdown takes its entries out at once instead of waiting for them to expire.
      const pipeline = redis.pipeline();
      for (const [key, members] of held) for (const m of members) pipeline.zrem(key, m);
      held.clear();
      byClient.clear();
      await pipeline.exec().catch(onError);
    },
  };
}
