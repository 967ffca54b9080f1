import type { DataSource } from 'typeorm';
import { VapidKeyEntity, type VapidKeyRow } from '../entities/index.js';
import { generateVapidKeyPair } from '../vapid/index.js';
import { isDuplicateKey } from './subscription-store.js';

export type VapidKey = Pick<VapidKeyRow, 'id' | 'package' | 'publicKey' | 'privateKey'>;

/** Each package's VAPID keys: the current one for new subscriptions, old ones by id. */
export interface VapidKeyStore {
  /** The package's current key; generated and stored on first use. */
  current(pkg: string): Promise<VapidKey>;
  byId(id: number): Promise<VapidKey | null>;
}

const SELECT = { id: true, package: true, publicKey: true, privateKey: true } as const;

export function createVapidKeyStore(dataSource: DataSource): VapidKeyStore {
  const repo = dataSource.getRepository(VapidKeyEntity);
  const findCurrent = (pkg: string) => repo.findOne({ where: { currentFor: pkg }, select: SELECT });

  return {
    async current(pkg) {
      const found = await findCurrent(pkg);
      if (found) return found;
      const pair = generateVapidKeyPair();
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
  };
}
