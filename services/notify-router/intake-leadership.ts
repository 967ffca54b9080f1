import type { Redis } from 'ioredis';
import type { Logger } from '../../shared/logging/index.js';

/**
 * One router at a time holds the MQTT intake: all routers share one persistent MQTT session
 * (one client id), and two connections with one client id would take the session from each
 * other. The holder renews a Redis lease; when it stops (crash, partition), another router
 * takes the lease within `leaseMs` and resumes the session with what the broker kept for it.
 */
export interface Leadership {
  /** Settles after the first attempt at the lease (and the intake start, when it was won). */
  ready: Promise<void>;
  close(): Promise<void>;
}

// Renew only while the lease is still ours: never extend a lease another router has taken.
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

const NO_ANSWER = Symbol('no answer');

/** What `command` answers, or NO_ANSWER when that takes longer than `ms`. */
async function answerWithin<T>(command: Promise<T>, ms: number): Promise<T | typeof NO_ANSWER> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof NO_ANSWER>((resolve) => (timer = setTimeout(resolve, Math.max(0, ms), NO_ANSWER)));
  command.catch(() => undefined);
  try {
    return await Promise.race([command, late]);
  } finally {
    clearTimeout(timer);
  }
}

export function startLeadership(options: {
  redis: Redis;
  key: string;
  holder: string;
  leaseMs: number;
  log: Logger;
  /** Called when this router becomes the holder; what it starts, `onLose` stops. */
  onGain: () => Promise<void>;
  onLose: () => Promise<void>;
}): Leadership {
  const { redis, key, holder, leaseMs, log } = options;
  let leading = false;
  let closed = false;
  let busy: Promise<void> = Promise.resolve();
  // The lease runs from when Redis ran the command, which is after we sent it: counting from
  // the send, this is never later than the real expiry.
  let validUntil = 0;

  const step = async () => {
    try {
      const sentAt = Date.now();
      if (leading) {
        // A renewal that cannot answer before the lease may have run out is a lost lease: a
        // router cut off from Redis stops its intake rather than hold it beside the next one.
        const renewed = await answerWithin(redis.eval(RENEW, 1, key, holder, leaseMs), validUntil - sentAt);
        if (renewed === 1) {
          validUntil = sentAt + leaseMs;
          return;
        }
        leading = false;
        log.warn(renewed === NO_ANSWER ? 'Redis did not answer the MQTT intake lease renewal in time; stopping intake' : 'lost the MQTT intake lease; stopping intake');
        await options.onLose();
        return;
      }
      if ((await answerWithin(redis.set(key, holder, 'PX', leaseMs, 'NX'), leaseMs)) === 'OK') {
        validUntil = sentAt + leaseMs;
        log.info('holding the MQTT intake lease; starting intake');
        try {
          await options.onGain();
          leading = true;
        } catch (err) {
          // Holding the lease without an intake would starve every router: give it back.
          await redis.eval(RELEASE, 1, key, holder).catch(() => undefined);
          throw err;
        }
      }
    } catch (err) {
      log.warn({ err }, 'MQTT intake lease step failed; will try again');
    }
  };
  const tick = () => {
    if (closed) return;
    busy = busy.then(step);
  };
  tick();
  const ready = busy;
  const timer = setInterval(tick, Math.max(100, Math.floor(leaseMs / 3)));
  timer.unref();

  return {
    ready,
    async close() {
      closed = true;
      clearInterval(timer);
      await busy;
      if (!leading) return;
      leading = false;
      await options.onLose();
      // Hand over at once rather than after the lease runs out.
      await redis.eval(RELEASE, 1, key, holder).catch(() => undefined);
    },
  };
}
