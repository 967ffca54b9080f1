import type { DataSource } from 'typeorm';

interface Statement {
  all(...parameters: unknown[]): unknown[];
  run(...parameters: unknown[]): { changes: number };
}

/** The part of better-sqlite3's connection used here. */
interface SqliteConnection {
  open: boolean;
  prepare(sql: string): Statement;
}

/**
 * Statements prepared once on better-sqlite3's own connection, for queries that run on every
 * push job. TypeORM prepares the SQL text again on each `query()` and wraps it in a query runner:
 * about 30 µs for a one-user job, and an IN list of 400 placeholders compiled anew for a job of
 * 400. Lists go in as one JSON array (`json_each`), so the text, and the prepared statement, is
 * the same whatever the list's length.
 *
 * Statements belong to a connection: they are prepared again when the data source has opened
 * a new one.
 */
export function createSqliteStatements(dataSource: DataSource): (sql: string) => Statement {
  let connection: SqliteConnection | undefined;
  let prepared = new Map<string, Statement>();
  return (sql) => {
    const current = (dataSource.driver as unknown as { databaseConnection?: SqliteConnection }).databaseConnection;
    if (!current?.open) throw new Error('the SQLite database is not open');
    if (current !== connection) {
      connection = current;
      prepared = new Map();
    }
    let statement = prepared.get(sql);
    if (!statement) {
      statement = current.prepare(sql);
      prepared.set(sql, statement);
    }
    return statement;
  };
}
