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
  last as (select s.at::text as at, s.id::text as id from scanned s order by s.at desc, s.id desc limit 1)
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
 * A CTE `untagged` that deletes the tags of the rows in CTE `gone` (id, cluster_id), by the ARN
 * `make` builds from the cluster's name and the row's id (e.g. `(c, i) => arns.task(scope, c, i)`).
 * Looked up as `= any(array)`: an index probe per row, whatever the planner thinks of the batch.
 */
export const untagGone = (make: (cluster: string, id: string) => string): SQL => sql`
  untagged as (
    delete from tags
     where resource_arn = any(array(
       select ${arnInSql(make, sql`c.name`, sql`gone.id`)} from gone join clusters c on c.id = gone.cluster_id)))`;

/** An ARN built in SQL from the same template as @bosun/model's `arns`, so the two cannot drift. */
function arnInSql(make: (cluster: string, id: string) => string, cluster: SQL, id: SQL): SQL {
  const [head = '', rest = ''] = make('\u0001', '\u0002').split('\u0001');
  const [middle = '', tail = ''] = rest.split('\u0002');
  return sql`(${head} || ${cluster} || ${middle} || ${id}::text || ${tail})`;
}
