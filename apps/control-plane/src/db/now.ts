import { sql } from 'drizzle-orm';
import type { Tx } from './client.ts';

/**
 * Postgres' clock: `now()`, the start of the current transaction. Liveness compares an agent's last
 * contact (written with `now()` too) against it, never against a process's own clock, so a control
 * plane whose clock stepped, or two whose clocks disagree, still agree on which hosts are silent.
 */
export async function databaseNow(tx: Tx): Promise<Date> {
  const [row] = await tx.execute<{ now: number }>(
    sql`select (extract(epoch from now()) * 1000)::float8 as now`,
  );
  return new Date(Number(row?.now));
}

/** The same, as a column of a larger select (one round trip less on hot paths). */
export const nowMs = sql<number>`(extract(epoch from now()) * 1000)::float8`.mapWith(Number);
