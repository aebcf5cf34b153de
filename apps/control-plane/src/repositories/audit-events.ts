import { and, desc, eq, gte, lt, lte, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { auditEvents } from '../db/schema/index.ts';
import { olderThan } from './batches.ts';

export type AuditEventRow = typeof auditEvents.$inferSelect;
export type NewAuditEvent = Omit<typeof auditEvents.$inferInsert, 'id' | 'at'>;

export async function insertAuditEvent(db: Db, event: NewAuditEvent): Promise<void> {
  await db.insert(auditEvents).values(event);
}

export interface AuditFilter {
  since?: Date;
  until?: Date;
  action?: string;
  accessKeyId?: string;
  userName?: string;
  /** `ok`, or an error code. */
  result?: string;
}

/** Newest first; `beforeId` continues a listing (the last id of the previous page). */
export async function listAuditEvents(
  db: Db,
  filter: AuditFilter,
  limit: number,
  beforeId?: number,
): Promise<AuditEventRow[]> {
  const where: SQL[] = [];
  if (filter.since) where.push(gte(auditEvents.at, filter.since));
  if (filter.until) where.push(lte(auditEvents.at, filter.until));
  if (filter.action) where.push(eq(auditEvents.action, filter.action));
  if (filter.accessKeyId) where.push(eq(auditEvents.accessKeyId, filter.accessKeyId));
  if (filter.userName) where.push(eq(auditEvents.userName, filter.userName));
  if (filter.result) where.push(eq(auditEvents.result, filter.result));
  if (beforeId !== undefined) where.push(lt(auditEvents.id, beforeId));
  return db
    .select()
    .from(auditEvents)
    .where(and(...where))
    .orderBy(desc(auditEvents.id))
    .limit(limit);
}

/** Housekeeping: removes up to `limit` of the oldest rows past retention, skipping rows others hold. */
export async function deleteOldAuditEvents(db: Db, retentionMs: number, limit: number): Promise<number> {
  const [row] = await db.execute<{ n: number }>(sql`
    with doomed as (
      select id from audit_events
       where ${olderThan(sql`at`, retentionMs)}
       order by at limit ${limit}
       for update skip locked),
    gone as (delete from audit_events where id = any(array(select id from doomed)) returning 1)
    select count(*)::int as n from gone`);
  return row?.n ?? 0;
}
