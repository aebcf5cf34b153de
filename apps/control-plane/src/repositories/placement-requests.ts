import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.ts';
import { groupedLookup } from '../db/group-statement.ts';
import {
  type PlacementOutcome,
  type PlacementRequestStatus,
  type PlacementSpec,
  placementRequests,
} from '../db/schema/index.ts';
import {
  afterCursor,
  type BatchResult,
  KEYSET_SUMMARY,
  type KeysetRow,
  keysetResult,
  olderThan,
  type ScanCursor,
} from './batches.ts';

export type PlacementRequestRow = typeof placementRequests.$inferSelect;

/**
 * Stores a RunTask/StartTask call as PENDING; with a clientToken already used in the cluster, answers
 * that earlier request instead (a CANCELLED one is made PENDING again: a retry of a call that timed
 * out is placed now).
 */
export async function insertOrFindPlacementRequest(
  db: Db,
  clusterId: string,
  spec: PlacementSpec,
  clientToken: string | undefined,
  now: Date,
): Promise<PlacementRequestRow | undefined> {
  // One statement on its own first: without a clientToken (or with a new one) that is all it takes,
  // and a transaction around it would cost two more round trips on every RunTask.
  const [inserted] = await db
    .insert(placementRequests)
    .values({ clusterId, clientToken: clientToken ?? null, status: 'PENDING', spec, createdAt: now })
    .onConflictDoNothing({ target: [placementRequests.clusterId, placementRequests.clientToken] })
    .returning();
  if (inserted !== undefined) return inserted;
  return db.transaction(async (tx) => {
    const [existing] = await tx
      .select()
      .from(placementRequests)
      .where(
        and(eq(placementRequests.clusterId, clusterId), eq(placementRequests.clientToken, clientToken ?? '')),
      )
      .for('update');
    if (existing?.status !== 'CANCELLED') return existing;
    await tx
      .update(placementRequests)
      .set({ status: 'PENDING' })
      .where(eq(placementRequests.id, existing.id));
    return { ...existing, status: 'PENDING' as PlacementRequestStatus };
  });
}

/**
 * What the caller reads once the worker says it is done (or the wait ended). Grouped with the other
 * callers' (db/group-statement.ts): the callers of one placement batch are woken together.
 */
const groupedOutcomes = groupedLookup(
  (db: Db, ids: string[]) =>
    db
      .select({
        id: placementRequests.id,
        status: placementRequests.status,
        outcome: placementRequests.outcome,
      })
      .from(placementRequests)
      .where(inArray(placementRequests.id, ids)),
  (row) => row.id,
);

export const readPlacementOutcome = async (db: Db, id: string) => (await groupedOutcomes(db, [id]))[0];

/** CANCELLED if still PENDING (under its row lock); false when the worker got there first. */
export async function cancelPendingRequest(db: Db, id: string, now: Date): Promise<boolean> {
  const [cancelled] = await db
    .update(placementRequests)
    .set({ status: 'CANCELLED', completedAt: now })
    .where(and(eq(placementRequests.id, id), eq(placementRequests.status, 'PENDING')))
    .returning({ id: placementRequests.id });
  return cancelled !== undefined;
}

/** A cluster's PENDING requests, oldest first. */
export async function listPendingRequests(
  db: Db,
  clusterId: string,
  limit: number,
): Promise<PlacementRequestRow[]> {
  return db
    .select()
    .from(placementRequests)
    .where(and(eq(placementRequests.clusterId, clusterId), eq(placementRequests.status, 'PENDING')))
    .orderBy(asc(placementRequests.createdAt), asc(placementRequests.id))
    .limit(limit);
}

/** Locks the requests still PENDING among `ids` (id order) and answers their ids. */
export async function lockPendingRequests(tx: Tx, ids: readonly string[]): Promise<Set<string>> {
  const live = await tx
    .select({ id: placementRequests.id })
    .from(placementRequests)
    .where(and(inArray(placementRequests.id, [...ids]), eq(placementRequests.status, 'PENDING')))
    .orderBy(asc(placementRequests.id))
    .for('update');
  return new Set(live.map((r) => r.id));
}

/** Marks requests DONE with their outcomes, in one statement. */
export async function finishPlacementRequests(
  tx: Tx,
  now: Date,
  outcomes: ReadonlyMap<string, PlacementOutcome>,
): Promise<void> {
  if (outcomes.size === 0) return;
  await tx.execute(sql`
    update placement_requests as p
       set status = 'DONE', outcome = v.value, completed_at = ${now.toISOString()}::timestamptz
      from jsonb_each(${JSON.stringify(Object.fromEntries(outcomes))}::jsonb) as v
     where p.id = v.key::uuid`);
}

/** Counts a re-plan after a capacity conflict under lock (diagnostics). */
export async function countPlacementConflict(db: Db, ids: readonly string[]): Promise<void> {
  await db
    .update(placementRequests)
    .set({ conflicts: sql`${placementRequests.conflicts} + 1` })
    .where(inArray(placementRequests.id, [...ids]));
}

/**
 * Housekeeping: cancels at most `limit` PENDING requests older than `abandonedMs`, oldest first, in
 * one statement: their caller stopped waiting long ago. A request the placement worker holds is
 * skipped (repositories/batches.ts); it is being placed.
 */
export async function cancelAbandonedRequests(db: Db, abandonedMs: number, limit: number): Promise<number> {
  const [row] = await db.execute<{ n: number }>(sql`
    with doomed as (
      select id from placement_requests
       where status = 'PENDING' and ${olderThan(sql`created_at`, abandonedMs)}
       order by created_at limit ${limit}
       for update skip locked),
    cancelled as (
      update placement_requests p set status = 'CANCELLED', completed_at = now()
        from doomed d where p.id = d.id returning 1)
    select count(*)::int as n from cancelled`);
  return row?.n ?? 0;
}

/**
 * Housekeeping: deletes finished requests older than `retentionMs` that no task names any more (with
 * the request goes its clientToken's memory). Scans at most `limit` candidates per statement, oldest
 * first from `cursor`, so requests still named by long-lived tasks are stepped over, not scanned again
 * in every batch.
 */
export async function deleteExpiredRequests(
  db: Db,
  retentionMs: number,
  limit: number,
  cursor: ScanCursor | undefined,
): Promise<BatchResult> {
  const [row] = await db.execute<KeysetRow>(sql`
    with scanned as (
      select id, created_at as at from placement_requests
       where ${olderThan(sql`created_at`, retentionMs)}
         and ${afterCursor(sql`created_at`, sql`id`, cursor)}
       order by created_at, id limit ${limit}),
    doomed as (
      select p.id from placement_requests p
       where p.id = any(array(select id from scanned)) and p.status <> 'PENDING'
         and not exists (select 1 from tasks t where t.placement_request_id = p.id)
       for update skip locked),
    gone as (delete from placement_requests where id = any(array(select id from doomed)) returning 1),
    ${KEYSET_SUMMARY}`);
  return keysetResult(row, limit);
}
