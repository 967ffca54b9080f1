// aedes-persistence-redis ships no types; this is the part of its API we use.
declare module 'aedes-persistence-redis' {
  import type { Redis } from 'ioredis';

  interface AedesPersistenceRedisOptions {
    conn?: Redis;
    /** Messages delivered at most to a persistent session when it connects again. */
    maxSessionDelivery?: number;
    packetTTL?: (packet: unknown) => number;
  }
  export default function aedesPersistenceRedis(options?: AedesPersistenceRedisOptions): unknown;
}
