import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import type { ReadinessCheck } from './readiness.js';

/** The database answers a trivial query (MySQL/MariaDB, or the SQLite file). */
export function databaseCheck(dataSource: DataSource): ReadinessCheck {
  return {
    name: 'database',
    probe: async () => {
      if (!dataSource.isInitialized) throw new Error('not connected');
      await dataSource.query('SELECT 1');
    },
  };
}

/**
 * Redis answers PING. A connection that is not `ready` fails at once: a worker's connection
 * queues commands while it reconnects, so a PING would only wait out the deadline.
 */
export function redisCheck(redis: Redis): ReadinessCheck {
  return {
    name: 'redis',
    probe: async () => {
      if (redis.status !== 'ready') throw new Error(`connection ${redis.status}`);
      const answer = await redis.ping();
      if (answer !== 'PONG') throw new Error(`unexpected answer ${answer}`);
    },
  };
}

/** The MQTT broker: `connected` tells whether the service's connection (or listener) is up. */
export function brokerCheck(connected: () => boolean, what = 'not connected'): ReadinessCheck {
  return {
    name: 'broker',
    probe: async () => {
      if (!connected()) throw new Error(what);
    },
  };
}
