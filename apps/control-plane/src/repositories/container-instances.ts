import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { containerInstances } from '../db/schema/index.ts';

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
