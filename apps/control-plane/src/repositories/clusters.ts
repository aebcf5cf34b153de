import { type ArnScope, ClusterNotFoundError, clusterNameFromRef, parseArn } from '@bosun/model';
import { eq, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { clusters } from '../db/schema/index.ts';

export type ClusterRow = typeof clusters.$inferSelect;

export interface ClusterCounts {
  registeredContainerInstancesCount: number;
  runningTasksCount: number;
  pendingTasksCount: number;
  activeServicesCount: number;
}

/**
 * Resolves `name` or a cluster ARN. An ARN of another region or account names no cluster here,
 * so it resolves to nothing rather than to a same-named local cluster.
 */
export function clusterNameFor(scope: ArnScope, ref: string): string | undefined {
  if (ref.startsWith('arn:')) {
    const arn = parseArn(ref);
    if (!arn || arn.region !== scope.region || arn.accountId !== scope.accountId) return undefined;
  }
  return clusterNameFromRef(ref);
}

export async function findCluster(
  tx: Tx,
  scope: ArnScope,
  ref: string,
  options: { lock?: 'update' | 'share' } = {},
): Promise<ClusterRow | undefined> {
  const name = clusterNameFor(scope, ref);
  if (name === undefined) return undefined;
  const q = tx.select().from(clusters).where(eq(clusters.name, name));
  const [row] = await (options.lock === 'update'
    ? q.for('update')
    : options.lock === 'share'
      ? q.for('share')
      : q);
  return row;
}

/** An ACTIVE cluster or ClusterNotFoundException, as every action that acts inside a cluster needs. */
export async function requireActiveCluster(
  tx: Tx,
  scope: ArnScope,
  ref: string | undefined,
  options: { lock?: 'update' | 'share' } = {},
): Promise<ClusterRow> {
  const row = await findCluster(tx, scope, ref ?? 'default', options);
  if (row?.status !== 'ACTIVE') throw new ClusterNotFoundError();
  return row;
}

/** Counts shown on a cluster, computed from the rows themselves so they can never drift. */
export async function clusterCounts(tx: Tx, clusterIds: string[]): Promise<Map<string, ClusterCounts>> {
  const out = new Map<string, ClusterCounts>();
  if (clusterIds.length === 0) return out;
  // Raw SQL: the correlated subqueries must name the outer row explicitly (c.id), which drizzle's
  // column interpolation does not do.
  const rows = await tx.execute<{
    id: string;
    instances: number;
    running: number;
    pending: number;
    services: number;
  }>(sql`
    select c.id,
      (select count(*) from container_instances ci where ci.cluster_id = c.id and ci.status in ('ACTIVE', 'DRAINING'))::int as instances,
      (select count(*) from tasks t where t.cluster_id = c.id and t.last_status = 'RUNNING')::int as running,
      (select count(*) from tasks t where t.cluster_id = c.id and t.last_status in ('PROVISIONING', 'PENDING', 'ACTIVATING'))::int as pending,
      (select count(*) from services s where s.cluster_id = c.id and s.status = 'ACTIVE')::int as services
    from clusters c where c.id in (${sql.join(
      clusterIds.map((id) => sql`${id}::uuid`),
      sql`, `,
    )})`);
  for (const r of rows) {
    out.set(r.id, {
      registeredContainerInstancesCount: r.instances,
      runningTasksCount: r.running,
      pendingTasksCount: r.pending,
      activeServicesCount: r.services,
    });
  }
  return out;
}

/** What still lives in a cluster and stops it from being deleted. */
export async function clusterOccupants(
  tx: Tx,
  clusterId: string,
): Promise<{ instances: number; services: number; tasks: number }> {
  const [row] = await tx.execute<{ instances: number; services: number; tasks: number }>(sql`
    select
      (select count(*) from container_instances where cluster_id = ${clusterId} and status <> 'INACTIVE')::int as instances,
      (select count(*) from services where cluster_id = ${clusterId} and status <> 'INACTIVE')::int as services,
      (select count(*) from tasks where cluster_id = ${clusterId} and (desired_status <> 'STOPPED' or last_status <> 'STOPPED'))::int as tasks`);
  return row ?? { instances: 0, services: 0, tasks: 0 };
}
