import { type ArnScope, arns, type ContainerInstanceStatus } from '@bosun/model';
import { and, asc, eq, gt, inArray, like, ne, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { preparedPer } from '../db/prepared.ts';
import { containerInstances, type InstanceAttribute, tasks } from '../db/schema/index.ts';
import {
  afterCursor,
  type BatchResult,
  KEYSET_SUMMARY,
  type KeysetRow,
  keysetResult,
  olderThan,
  type ScanCursor,
  untagGone,
} from './batches.ts';
import { bumpDesiredVersions } from './tasks.ts';

export type ContainerInstanceRow = typeof containerInstances.$inferSelect;

export interface InstanceUsage {
  cpu: number;
  memory: number;
  ports: string[];
  running: number;
  pending: number;
}

/** What the tasks placed on each instance hold until they are STOPPED. */
export async function instanceUsage(tx: Tx, instanceIds: string[]): Promise<Map<string, InstanceUsage>> {
  const out = new Map<string, InstanceUsage>();
  if (instanceIds.length === 0) return out;
  const rows = await tx.execute<{
    id: string;
    cpu: number;
    memory: number;
    ports: string[] | null;
    running: number;
    pending: number;
  }>(sql`
    select t.container_instance_id as id,
           coalesce(sum(t.reserved_cpu), 0)::int as cpu,
           coalesce(sum(t.reserved_memory), 0)::int as memory,
           array_remove(array_agg(distinct p.port), null) as ports,
           count(distinct t.id) filter (where t.last_status = 'RUNNING')::int as running,
           count(distinct t.id) filter (where t.last_status in ('PROVISIONING', 'PENDING', 'ACTIVATING'))::int as pending
      from tasks t
      left join lateral unnest(t.reserved_ports) as p(port) on true
     where t.container_instance_id in ${instanceIds}
       and t.last_status <> 'STOPPED'
     group by t.container_instance_id`);
  for (const r of rows) {
    out.set(r.id, {
      cpu: r.cpu,
      memory: r.memory,
      ports: r.ports ?? [],
      running: r.running,
      pending: r.pending,
    });
  }
  return out;
}

export async function listInstanceIds(
  tx: Tx,
  clusterId: string,
  opts: { status?: string; afterId?: string; limit: number },
): Promise<string[]> {
  const rows = await tx
    .select({ id: containerInstances.id })
    .from(containerInstances)
    .where(
      and(
        eq(containerInstances.clusterId, clusterId),
        opts.status
          ? eq(containerInstances.status, opts.status as ContainerInstanceRow['status'])
          : sql`${containerInstances.status} <> 'INACTIVE'`,
        opts.afterId ? gt(containerInstances.id, opts.afterId) : undefined,
      ),
    )
    .orderBy(asc(containerInstances.id))
    .limit(opts.limit);
  return rows.map((r) => r.id);
}

export async function findInstances(
  tx: Tx,
  clusterId: string,
  ids: string[],
): Promise<ContainerInstanceRow[]> {
  if (ids.length === 0) return [];
  return tx
    .select()
    .from(containerInstances)
    .where(and(eq(containerInstances.clusterId, clusterId), inArray(containerInstances.id, ids)));
}

/**
 * The cluster's instances among `ids`, locked `for update` in id order (the order placement locks
 * them in, so the two cannot deadlock). INACTIVE ones are included: callers decide what that means.
 */
export async function lockInstances(
  tx: Tx,
  clusterId: string,
  ids: readonly string[],
): Promise<ContainerInstanceRow[]> {
  if (ids.length === 0) return [];
  return tx
    .select()
    .from(containerInstances)
    .where(and(eq(containerInstances.clusterId, clusterId), inArray(containerInstances.id, [...ids])))
    .orderBy(asc(containerInstances.id))
    .for('update');
}

const anyInstanceQuery = preparedPer((db) =>
  db
    .select({ id: containerInstances.id })
    .from(containerInstances)
    .where(
      and(
        eq(containerInstances.clusterId, sql.placeholder('clusterId')),
        ne(containerInstances.status, 'INACTIVE'),
      ),
    )
    .limit(1)
    .prepare('cluster_has_instances'),
);

/** Whether the cluster has an instance that is not INACTIVE (RunTask refuses a call to none). */
export async function clusterHasInstances(tx: Tx, clusterId: string): Promise<boolean> {
  return (await anyInstanceQuery(tx).execute({ clusterId })).length > 0;
}

export async function instanceExists(tx: Tx, id: string): Promise<boolean> {
  const rows = await tx.select({ n: sql`1` }).from(containerInstances).where(eq(containerInstances.id, id));
  return rows.length > 0;
}

export async function setInstanceStatus(
  tx: Tx,
  id: string,
  status: ContainerInstanceStatus,
  now: Date,
): Promise<void> {
  await tx.update(containerInstances).set({ status, updatedAt: now }).where(eq(containerInstances.id, id));
}

/** Replaces the instance's whole attribute list (PutAttributes, DeleteAttributes). */
export async function setInstanceAttributes(
  tx: Tx,
  id: string,
  attributes: InstanceAttribute[],
  now: Date,
): Promise<void> {
  await tx
    .update(containerInstances)
    .set({ attributes, updatedAt: now })
    .where(eq(containerInstances.id, id));
}

export interface AttributeRow {
  instanceId: string;
  name: string;
  value: string | null;
}

/**
 * Attributes of the cluster's instances (not INACTIVE ones), one row per attribute, in (instance id,
 * name) order so a page ends at a stable key. Byte order ("C") for names: the cursor comparison and
 * the sort must agree whatever the database's collation is.
 */
export async function listAttributeRows(
  tx: Tx,
  clusterId: string,
  opts: { name?: string; value?: string; after?: { instanceId: string; name: string }; limit: number },
): Promise<AttributeRow[]> {
  const rows = await tx.execute<{ instance_id: string; name: string; value: string | null }>(sql`
    select ci.id as instance_id, a.attr ->> 'name' as name, a.attr ->> 'value' as value
      from container_instances ci
      cross join lateral jsonb_array_elements(ci.attributes) as a(attr)
     where ci.cluster_id = ${clusterId}
       and ci.status <> 'INACTIVE'
       ${opts.name === undefined ? sql`` : sql`and a.attr ->> 'name' = ${opts.name}`}
       ${opts.value === undefined ? sql`` : sql`and a.attr ->> 'value' = ${opts.value}`}
       ${
         opts.after === undefined
           ? sql``
           : sql`and (ci.id, (a.attr ->> 'name') collate "C") > (${opts.after.instanceId}::uuid, ${opts.after.name} collate "C")`
       }
     order by ci.id, (a.attr ->> 'name') collate "C"
     limit ${opts.limit}`);
  return rows.map((r) => ({ instanceId: r.instance_id, name: r.name, value: r.value }));
}

/** Not-STOPPED tasks on an instance (any group); what DeregisterContainerInstance refuses without force. */
export async function countLiveTasks(tx: Tx, instanceId: string): Promise<number> {
  const [row] = await tx
    .select({ n: sql<number>`count(*)::int` })
    .from(tasks)
    .where(and(eq(tasks.containerInstanceId, instanceId), ne(tasks.lastStatus, 'STOPPED')));
  return row?.n ?? 0;
}

/**
 * Draining: service tasks on these instances that have not started yet (PROVISIONING, PENDING) are
 * told to stop now, as ECS does — the services scheduler starts their replacements elsewhere. Started
 * service tasks and standalone tasks are left alone here.
 *
 * Locks task rows (in id order, as agent reports do) before bumping the instances' desired version,
 * the same order as StopTask, so the two cannot deadlock. Returns the instances whose agents to wake.
 */
export async function stopUnstartedServiceTasks(
  tx: Tx,
  instanceIds: readonly string[],
  now: Date,
): Promise<{ taskIds: string[]; instanceIds: string[] }> {
  if (instanceIds.length === 0) return { taskIds: [], instanceIds: [] };
  const doomed = await tx
    .select({ id: tasks.id, instanceId: tasks.containerInstanceId })
    .from(tasks)
    .where(
      and(
        inArray(tasks.containerInstanceId, [...instanceIds]),
        inArray(tasks.lastStatus, ['PROVISIONING', 'PENDING']),
        eq(tasks.desiredStatus, 'RUNNING'),
        like(tasks.group, 'service:%'),
      ),
    )
    .orderBy(asc(tasks.id))
    .for('update');
  if (doomed.length === 0) return { taskIds: [], instanceIds: [] };
  const taskIds = doomed.map((t) => t.id);
  await tx
    .update(tasks)
    .set({
      desiredStatus: 'STOPPED',
      stopCode: 'ServiceSchedulerInitiated',
      stoppedReason: DRAINING_STOP_REASON,
      stoppingAt: now,
      updatedAt: now,
      version: sql`${tasks.version} + 1`,
    })
    .where(inArray(tasks.id, taskIds));
  const touched = [...new Set(doomed.flatMap((t) => (t.instanceId === null ? [] : [t.instanceId])))];
  await bumpDesiredVersions(tx, touched);
  return { taskIds, instanceIds: touched };
}

export const DRAINING_STOP_REASON = 'Container instance is draining';
export const DEREGISTERED_STOP_REASON = 'Container instance deregistered';

/**
 * A deregistered (INACTIVE) instance's tasks that are not STOPPED become STOPPED at once, desired and
 * last status both: bosun no longer hears from that host, so nothing would ever report them stopped,
 * and until they are their reservations and the cluster's counts would never free up. Containers still
 * running on the host are orphans there, as in ECS. A task already being stopped keeps its first
 * stopCode and reason. Task rows are locked in id order, then the instance's version is bumped (the
 * StopTask order). Idempotent: run again after a partial failure, it finishes the job.
 */
export async function orphanTasksOfInstance(tx: Tx, instanceId: string, now: Date): Promise<string[]> {
  const live = await tx
    .select()
    .from(tasks)
    .where(and(eq(tasks.containerInstanceId, instanceId), ne(tasks.lastStatus, 'STOPPED')))
    .orderBy(asc(tasks.id))
    .for('update');
  for (const t of live) {
    const stopping = t.desiredStatus === 'STOPPED';
    await tx
      .update(tasks)
      .set({
        desiredStatus: 'STOPPED',
        lastStatus: 'STOPPED',
        ...(stopping ? {} : { stopCode: 'UserInitiated' as const, stoppedReason: DEREGISTERED_STOP_REASON }),
        stoppingAt: t.stoppingAt ?? now,
        stoppedAt: now,
        // No exit codes: nobody saw the containers stop. Only their status follows the task's.
        containers: t.containers.map((c) =>
          c.lastStatus === 'STOPPED' ? c : { ...c, lastStatus: 'STOPPED' as const },
        ),
        updatedAt: now,
        version: sql`${tasks.version} + 1`,
      })
      .where(eq(tasks.id, t.id));
  }
  if (live.length > 0) await bumpDesiredVersions(tx, [instanceId]);
  return live.map((t) => t.id);
}

/**
 * Housekeeping: deletes deregistered (INACTIVE) instances deregistered more than `retentionMs` ago
 * (updated_at: nothing writes an INACTIVE instance after its deregistration) that no task names any
 * more, with their tags. Scans at most `limit` candidates per statement, oldest first from `cursor`,
 * so instances still named by tasks are stepped over, not scanned again in every batch.
 */
export async function deleteInactiveInstances(
  db: Tx,
  scope: ArnScope,
  retentionMs: number,
  limit: number,
  cursor: ScanCursor | undefined,
): Promise<BatchResult> {
  const [row] = await db.execute<KeysetRow>(sql`
    with scanned as (
      select id, updated_at as at from container_instances
       where status = 'INACTIVE' and ${olderThan(sql`updated_at`, retentionMs)}
         and ${afterCursor(sql`updated_at`, sql`id`, cursor)}
       order by updated_at, id limit ${limit}),
    doomed as (
      select ci.id from container_instances ci
       where ci.id = any(array(select id from scanned)) and ci.status = 'INACTIVE'
         and not exists (select 1 from tasks t where t.container_instance_id = ci.id)
       for update skip locked),
    gone as (
      delete from container_instances where id = any(array(select id from doomed)) returning id, cluster_id),
    ${untagGone((c, i) => arns.containerInstance(scope, c, i))},
    ${KEYSET_SUMMARY}`);
  return keysetResult(row, limit);
}
