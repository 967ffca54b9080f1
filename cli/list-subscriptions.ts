import { createSubscriptionStore, type SubscriptionView } from '../shared/database/index.js';
import { loadCliConfig, withDatabase } from './open-system.js';

/** `subscriptions list`: a user's subscriptions as a table or JSON, without key material. */
export async function listSubscriptions(user: string, pkg: string | undefined, json: boolean): Promise<void> {
  await withDatabase(loadCliConfig(), async (dataSource) => {
    const rows = (await createSubscriptionStore(dataSource).list(user, pkg)).map(listed);
    if (json) console.log(JSON.stringify(rows, null, 2));
    else if (rows.length === 0) console.log(`${user} has no subscriptions${pkg ? ` in package ${pkg}` : ''}`);
    else console.log(table(rows));
  });
}

interface ListedSubscription {
  package: string;
  /** The SHA-256 of the endpoint, as the API's `id`. */
  id: string;
  endpointHost: string;
  module: string | null;
  userAgent: string | null;
  createdAt: Date;
  lastSuccessAt: Date | null;
  expirationTime: Date | null;
  failureCount: number;
  active: boolean;
  deactivatedReason: string | null;
}

/**
 * What the CLI shows of a subscription. The endpoint's path is left out with the keys: at
 * push services without VAPID enforcement it is all a sender needs.
 */
function listed(row: SubscriptionView): ListedSubscription {
  return {
    package: row.package,
    id: row.endpointHash,
    endpointHost: hostOf(row.endpoint),
    module: row.module,
    userAgent: row.userAgent,
    createdAt: row.createdAt,
    lastSuccessAt: row.lastSuccessAt,
    expirationTime: row.expirationTime,
    failureCount: row.failureCount,
    active: row.active === 'Y',
    deactivatedReason: row.deactivatedReason,
  };
}

function hostOf(endpoint: string): string {
  try {
    return new URL(endpoint).host;
  } catch {
    return '?';
  }
}

function table(rows: ListedSubscription[]): string {
  const minute = (d: Date | null) => (d ? `${d.toISOString().slice(0, 16).replace('T', ' ')}Z` : 'never');
  const cells = [
    ['PACKAGE', 'ENDPOINT HOST', 'ID', 'CREATED', 'LAST SUCCESS', 'STATUS'],
    ...rows.map((r) => [
      r.package,
      r.endpointHost,
      r.id.slice(0, 12),
      minute(r.createdAt),
      minute(r.lastSuccessAt),
      r.active ? 'active' : `inactive: ${r.deactivatedReason ?? 'unsubscribed'}`,
    ]),
  ];
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
