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
 * Redis answers PING on the service's own connection. A connection still (re)connecting is
 * waited for, within the check's deadline: an API's connection refuses commands until it is
 * ready, and a worker's would queue the PING anyway.
 */
export function redisCheck(redis: Redis): ReadinessCheck {
  return {
    name: 'redis',
    probe: async () => {
      if (redis.status === 'end' || redis.status === 'close') throw new Error(`connection ${redis.status}`);
      if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
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
