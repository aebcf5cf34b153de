import { and, eq, lt, sql } from 'drizzle-orm';
import { placementRequests } from '../db/schema/index.ts';
import type { PlacementDeps } from './placement.ts';

/** Placement requests whose RunTask caller has long stopped waiting. */
const ABANDONED_REQUEST_MS = 10 * 60 * 1000;
/** How long a clientToken keeps answering with its first outcome. */
const REQUEST_RETENTION_MS = 24 * 3600 * 1000;

/**
 * The periodic job: forgets STOPPED tasks older than the retention (ECS shows stopped tasks for about
 * an hour), cancels placement requests nobody waits for any more, and drops old finished requests that
 * no task refers to. Every statement is idempotent, so running it twice or in two processes is harmless.
 */
export async function housekeeping(deps: PlacementDeps): Promise<{ tasks: number; requests: number }> {
  const now = deps.clock().getTime();
  const stoppedBefore = new Date(now - deps.settings.stoppedTaskRetentionMs);
  const deleted = await deps.db.transaction(async (tx) => {
    const gone = await tx.execute<{ arn: string }>(sql`
      delete from tasks t using clusters c
       where c.id = t.cluster_id and t.last_status = 'STOPPED' and t.stopped_at < ${stoppedBefore.toISOString()}::timestamptz
      returning 'arn:aws:ecs:' || ${deps.scope.region} || ':' || ${deps.scope.accountId} || ':task/' || c.name || '/' || t.id as arn`);
    const arns = gone.map((r) => r.arn);
    if (arns.length > 0) await tx.execute(sql`delete from tags where resource_arn in ${arns}`);
    return arns.length;
  });
  await deps.db
    .update(placementRequests)
    .set({ status: 'CANCELLED', completedAt: new Date(now) })
    .where(
      and(
        eq(placementRequests.status, 'PENDING'),
        lt(placementRequests.createdAt, new Date(now - ABANDONED_REQUEST_MS)),
      ),
    );
  const old = await deps.db.execute<{ id: string }>(sql`
    delete from placement_requests p
     where p.status <> 'PENDING' and p.created_at < ${new Date(now - REQUEST_RETENTION_MS).toISOString()}::timestamptz
       and not exists (select 1 from tasks t where t.placement_request_id = p.id)
    returning p.id`);
  if (deleted > 0 || old.length > 0) deps.log.info({ tasks: deleted, requests: old.length }, 'housekeeping');
  return { tasks: deleted, requests: old.length };
}
