import { type ArnScope, ClusterNotFoundError, clusterNameFromRef, parseArn } from '@bosun/model';
import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { preparedPer } from '../db/prepared.ts';
import { clusters } from '../db/schema/index.ts';

export type ClusterRow = typeof clusters.$inferSelect;
/** What reads inside a cluster need of it. */
export type ClusterRef = Pick<ClusterRow, 'id' | 'name' | 'status'>;

/** Selected along with what a read fetches inside the cluster, so both come in one round trip. */
export const clusterRefColumns = { id: clusters.id, name: clusters.name, status: clusters.status };

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

const clusterByName = preparedPer((tx) =>
  tx
    .select()
    .from(clusters)
    .where(eq(clusters.name, sql.placeholder('name')))
    .prepare('cluster_by_name'),
);

export async function findCluster(
  tx: Tx,
  scope: ArnScope,
  ref: string,
  options: { lock?: 'update' | 'share' } = {},
): Promise<ClusterRow | undefined> {
  const name = clusterNameFor(scope, ref);
  if (name === undefined) return undefined;
  if (options.lock === undefined) {
    const [row] = await clusterByName(tx).execute({ name });
    return row;
  }
  return lockClusterByName(tx, name, options.lock);
}

/** The cluster of exactly this name, its row locked (TagResource on a cluster ARN locks it by name). */
export async function lockClusterByName(
  tx: Tx,
  name: string,
  lock: 'update' | 'share' = 'update',
): Promise<ClusterRow | undefined> {
  const [row] = await tx.select().from(clusters).where(eq(clusters.name, name)).for(lock);
  return row;
}

/** A cluster by id; `share` keeps DeleteCluster (which locks it for update) out until the commit. */
export async function findClusterById(
  tx: Tx,
  id: string,
  options: { lock?: 'share' } = {},
): Promise<ClusterRow | undefined> {
  const query = tx.select().from(clusters).where(eq(clusters.id, id));
  const [row] = await (options.lock === undefined ? query : query.for(options.lock));
  return row;
}

/** A new ACTIVE cluster, or undefined when the name is taken (by an ACTIVE or an INACTIVE one). */
export async function insertClusterIfNew(
  tx: Tx,
  name: string,
  settings: ClusterRow['settings'],
): Promise<ClusterRow | undefined> {
  const [inserted] = await tx
    .insert(clusters)
    .values({ name, status: 'ACTIVE', settings })
    .onConflictDoNothing({ target: clusters.name })
    .returning();
  return inserted;
}

/** A deleted (INACTIVE) cluster made ACTIVE again with new settings, as CreateCluster does. */
export async function reviveCluster(
  tx: Tx,
  id: string,
  settings: ClusterRow['settings'],
  now: Date,
): Promise<ClusterRow | undefined> {
  const [revived] = await tx
    .update(clusters)
    .set({ status: 'ACTIVE', settings, updatedAt: now })
    .where(eq(clusters.id, id))
    .returning();
  return revived;
}

export async function markClusterInactive(tx: Tx, id: string, now: Date): Promise<ClusterRow | undefined> {
  const [updated] = await tx
    .update(clusters)
    .set({ status: 'INACTIVE', updatedAt: now })
    .where(eq(clusters.id, id))
    .returning();
  return updated;
}

/** Names of ACTIVE clusters in name order, after `afterName`, at most `limit` (ListClusters). */
export async function listActiveClusterNames(
  tx: Tx,
  page: { afterName?: string | undefined; limit: number },
): Promise<string[]> {
  const rows = await tx
    .select({ name: clusters.name })
    .from(clusters)
    .where(
      and(
        eq(clusters.status, 'ACTIVE'),
        page.afterName === undefined ? undefined : gt(clusters.name, page.afterName),
      ),
    )
    .orderBy(asc(clusters.name))
    .limit(page.limit);
  return rows.map((r) => r.name);
}

/**
 * The name of the cluster `ref` (default: `default`) names here, or ClusterNotFoundException, for
 * reads that fetch the cluster together with what they read inside it (then `requireActive`).
 */
export function requireClusterName(scope: ArnScope, ref: string | undefined): string {
  const name = clusterNameFor(scope, ref ?? 'default');
  if (name === undefined) throw new ClusterNotFoundError();
  return name;
}

/** The cluster if it is ACTIVE, else ClusterNotFoundException, as requireActiveCluster decides. */
export function requireActive<C extends Pick<ClusterRow, 'status'>>(row: C | undefined): C {
  if (row?.status !== 'ACTIVE') throw new ClusterNotFoundError();
  return row;
}

/** An ACTIVE cluster or ClusterNotFoundException, as every action that acts inside a cluster needs. */
export async function requireActiveCluster(
  tx: Tx,
  scope: ArnScope,
  ref: string | undefined,
  options: { lock?: 'update' | 'share' } = {},
): Promise<ClusterRow> {
  return requireActive(await findCluster(tx, scope, ref ?? 'default', options));
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
