import type { DataSource } from 'typeorm';
import { createAnswerCache } from '../answer-cache/index.js';
import { VapidKeyEntity, type VapidKeyRow } from '../entities/index.js';
import { generateVapidKeyPair } from '../vapid/index.js';
import { isDuplicateKey } from './subscription-store.js';

export type VapidKey = Pick<VapidKeyRow, 'id' | 'package' | 'publicKey' | 'privateKey'>;
export type VapidKeyPair = Pick<VapidKeyRow, 'publicKey' | 'privateKey'>;

/** Each package's VAPID keys: the current one for new subscriptions, old ones by id. */
export interface VapidKeyStore {
  /** The package's current key; on first use the configured default pair, or a new one. */
  current(pkg: string): Promise<VapidKey>;
  byId(id: number): Promise<VapidKey | null>;
  /** A key of the package (current or retired) by its public key. */
  byPublicKey(pkg: string, publicKey: string): Promise<VapidKey | null>;
  /**
   * Makes a new key current for new subscriptions. The old key stays: subscriptions made
   * with it keep being signed with it until the browser subscribes again.
   */
  rotate(pkg: string): Promise<VapidKey>;
}

const SELECT = { id: true, package: true, publicKey: true, privateKey: true } as const;
/** Keys found by public key that one store keeps; the oldest goes first. */
const PUBLIC_KEY_CACHE_SIZE = 1_000;

export interface VapidKeyStoreOptions {
  /** `VAPID_PUBLIC_KEY`/`VAPID_PRIVATE_KEY`: the first key of every package that has none. */
  defaultKey?: VapidKeyPair;
}

export function createVapidKeyStore(dataSource: DataSource, options: VapidKeyStoreOptions = {}): VapidKeyStore {
  const repo = dataSource.getRepository(VapidKeyEntity);
  const findCurrent = (pkg: string) => repo.findOne({ where: { currentFor: pkg }, select: SELECT });
  const byPublicKeyCache = createAnswerCache<VapidKey | null>({ maxEntries: PUBLIC_KEY_CACHE_SIZE });

  return {
    async current(pkg) {
      const found = await findCurrent(pkg);
      if (found) return found;
      const pair = options.defaultKey ?? generateVapidKeyPair();
      try {
        const row = { package: pkg, ...pair, currentFor: pkg, createdAt: new Date() };
        const { identifiers } = await repo.insert(row);
        return { id: Number(identifiers[0]?.['id']), package: pkg, ...pair };
      } catch (err) {
        // Another process created the first key at the same moment: use theirs.
        if (!isDuplicateKey(err)) throw err;
        const winner = await findCurrent(pkg);
        if (!winner) throw err;
        return winner;
      }
    },
    byId: (id) => repo.findOne({ where: { id }, select: SELECT }),
    // A key row never changes once written, so a found one is kept; every subscribe from the
    // browser client names its key, and this saves that query (bench:api).
    byPublicKey: (pkg, publicKey) =>
      byPublicKeyCache.get(`${pkg}\n${publicKey}`, async () => {
        const found = await repo.findOne({ where: { package: pkg, publicKey }, select: SELECT });
        return { value: found, ttlMs: found ? Number.POSITIVE_INFINITY : 0 };
      }),
    async rotate(pkg) {
      const pair = generateVapidKeyPair();
      return dataSource.transaction(async (tx) => {
        const keys = tx.getRepository(VapidKeyEntity);
        await keys.update({ currentFor: pkg }, { currentFor: null });
        const { identifiers } = await keys.insert({ package: pkg, ...pair, currentFor: pkg, createdAt: new Date() });
        return { id: Number(identifiers[0]?.['id']), package: pkg, ...pair };
      });
    },
  };
}
