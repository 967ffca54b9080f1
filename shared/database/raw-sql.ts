import type { DataSource } from 'typeorm';

/** A LIMIT goes into the SQL text (a `LIMIT ?` is not portable), so it must be a plain integer. */
export function checkedLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new RangeError(`limit must be a positive integer, got ${limit}`);
  }
  return limit;
}

/** Runs one write statement and answers how many rows it inserted, changed or deleted. */
export async function affectedRows(dataSource: DataSource, sql: string, params: unknown[]): Promise<number> {
  const runner = dataSource.createQueryRunner();
  try {
    const result = await runner.query(sql, params, true);
    return result.affected ?? 0;
  } finally {
    await runner.release();
  }
}
