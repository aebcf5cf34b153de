import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema/index.ts';

export type Db = PostgresJsDatabase<typeof schema>;
/** A transaction or the database itself: repositories accept either. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0] | Db;

export interface Database {
  db: Db;
  sql: postgres.Sql;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  max?: number;
  /** Postgres' statement_timeout, lock_timeout, idle_in_transaction_session_timeout (0 or absent: none). */
  statementTimeoutMs?: number;
  lockTimeoutMs?: number;
  idleInTransactionTimeoutMs?: number;
}

export function connectDatabase(url: string, options: DatabaseOptions = {}): Database {
  const sql = postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    // A dead database must surface as an error quickly rather than a hung API call.
    connect_timeout: 5,
    // postgres.js waits before reconnecting, and its default wait grows with every failed connect to
    // 20 s, with queries queued behind it: deep into an outage an API call would hang that long before
    // its 503, and recovery would be noticed that late. Postgres is near: retry within half a second.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 0.5) * (0.5 + Math.random() / 2),
    idle_timeout: 30,
    // Set on every connection at its start: a statement stuck on a lock or running away fails (and
    // its transaction rolls back) instead of holding the caller and its connection indefinitely.
    connection: {
      statement_timeout: Math.round(options.statementTimeoutMs ?? 0),
      lock_timeout: Math.round(options.lockTimeoutMs ?? 0),
      idle_in_transaction_session_timeout: Math.round(options.idleInTransactionTimeoutMs ?? 0),
    },
  });
  return { db: drizzle(sql, { schema }), sql, close: () => sql.end({ timeout: 5 }) };
}
