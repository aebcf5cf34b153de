import { type SQL, sql } from 'drizzle-orm';

/**
 * What the housekeeping statements share (workers/housekeeping.ts). Each removes at most `limit` rows
 * in one statement: candidates are picked `for update skip locked`, so a row another transaction
 * holds is passed over rather than waited for, and two runs at once (two processes, or a job run
 * twice) take different rows instead of queueing on each other.
 */

/** Where a keyset scan stopped: the last scanned row's time (Postgres' text for it) and id. */
export interface ScanCursor {
  at: string;
  id: string;
}

/** One batch: rows removed (or cancelled), whether more may be left, and where a keyset scan resumes. */
export interface BatchResult {
  removed: number;
  more: boolean;
  cursor?: ScanCursor;
}

/** `column` lies more than `ms` before Postgres' now(): one clock for every process, as liveness uses. */
export const olderThan = (column: SQL, ms: number): SQL =>
  sql`${column} < now() - ${Math.round(ms)}::bigint * interval '1 millisecond'`;

/** The keyset condition `(time, id) > cursor`; none before the first batch of a pass. */
export const afterCursor = (time: SQL, id: SQL, cursor: ScanCursor | undefined): SQL =>
  cursor === undefined ? sql`true` : sql`(${time}, ${id}) > (${cursor.at}::timestamptz, ${cursor.id})`;

/**
 * Closes a keyset batch's statement: over its CTEs `scanned` (id, at: the candidates of this batch)
 * and `gone` (the rows removed), answers the KeysetRow that keysetResult reads.
 */
export const KEYSET_SUMMARY = sql`
  last as (select at::text as at, id::text as id from scanned order by at desc, id desc limit 1)
  select (select count(*) from gone)::int as removed, (select count(*) from scanned)::int as scanned,
         (select at from last) as at, (select id from last) as id`;

export type KeysetRow = {
  removed: number;
  scanned: number;
  at: string | null;
  id: string | null;
};

/** A full batch of candidates may have more behind it; the last one is where the next batch starts. */
export function keysetResult(row: KeysetRow | undefined, limit: number): BatchResult {
  return {
    removed: row?.removed ?? 0,
    more: (row?.scanned ?? 0) >= limit,
    ...(row?.at && row.id ? { cursor: { at: row.at, id: row.id } } : {}),
  };
}

/**
 * An ARN built in SQL from the same template as @bosun/model's `arns` (e.g. `(c, i) => arns.task(scope,
 * c, i)`), so the tags deleted with a row are found by exactly the ARN they were stored under.
 */
export function arnInSql(make: (cluster: string, id: string) => string, cluster: SQL, id: SQL): SQL {
  const [head = '', rest = ''] = make('\u0001', '\u0002').split('\u0001');
  const [middle = '', tail = ''] = rest.split('\u0002');
  return sql`(${head} || ${cluster} || ${middle} || ${id}::text || ${tail})`;
}
