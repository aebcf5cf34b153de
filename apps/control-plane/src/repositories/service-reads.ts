import type { SchedulingStrategy } from '@bosun/scheduler';
import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { clusters, services } from '../db/schema/index.ts';

/**
 * Reads of services the ECS API makes besides describing them (repositories/services.ts): listing
 * names, checking that one exists.
 */

/** Names of the cluster's ACTIVE services in name order, after `afterName`, at most `limit` (ListServices). */
export async function listActiveServiceNames(
  tx: Tx,
  clusterId: string,
  filter: { schedulingStrategy?: SchedulingStrategy | undefined },
  page: { afterName?: string | undefined; limit: number },
): Promise<string[]> {
  const rows = await tx
    .select({ name: services.name })
    .from(services)
    .where(
      and(
        eq(services.clusterId, clusterId),
        eq(services.status, 'ACTIVE'),
        filter.schedulingStrategy === undefined
          ? undefined
          : eq(services.schedulingStrategy, filter.schedulingStrategy),
        page.afterName === undefined ? undefined : gt(services.name, page.afterName),
      ),
    )
    .orderBy(asc(services.name))
    .limit(page.limit);
  return rows.map((r) => r.name);
}

/** Whether the cluster of that name has (or had: INACTIVE ones count) a service of that name. */
export async function serviceExists(tx: Tx, clusterName: string, serviceName: string): Promise<boolean> {
  const rows = await tx
    .select({ n: sql`1` })
    .from(services)
    .innerJoin(clusters, eq(services.clusterId, clusters.id))
    .where(and(eq(clusters.name, clusterName), eq(services.name, serviceName)));
  return rows.length > 0;
}
