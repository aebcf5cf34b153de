import {
  arns,
  ClusterNotEmptyError,
  ClusterNotFoundError,
  parseTags,
  Tag,
  UnsupportedFeatureError,
} from '@bosun/model';
import { z } from 'zod';
import {
  type ClusterCounts,
  type ClusterRow,
  clusterCounts,
  clusterOccupants,
  findCluster,
  insertClusterIfNew,
  listActiveClusterNames,
  markClusterInactive,
  reviveCluster,
} from '../repositories/clusters.ts';
import { listTags, putTags, removeTags } from '../repositories/tags.ts';
import { type ActionContext, defineAction } from './action.ts';
import { decodeToken, maxResults, nextToken, page } from './pagination.ts';
import { clusterName, clusterRef } from './shapes.ts';

const ClusterSetting = z.object({
  name: z.literal('containerInsights'),
  value: z.enum(['enabled', 'disabled', 'enhanced']),
});
const ClusterInclude = z.enum(['ATTACHMENTS', 'CONFIGURATIONS', 'SETTINGS', 'STATISTICS', 'TAGS']);
const DEFAULT_SETTINGS = [{ name: 'containerInsights', value: 'disabled' }];

async function describeCluster(
  ctx: ActionContext,
  row: ClusterRow,
  counts: ClusterCounts | undefined,
  include: readonly string[] = [],
) {
  const arn = arns.cluster(ctx.scope, row.name);
  return {
    clusterArn: arn,
    clusterName: row.name,
    status: row.status,
    registeredContainerInstancesCount: counts?.registeredContainerInstancesCount ?? 0,
    runningTasksCount: counts?.runningTasksCount ?? 0,
    pendingTasksCount: counts?.pendingTasksCount ?? 0,
    activeServicesCount: counts?.activeServicesCount ?? 0,
    statistics: [],
    capacityProviders: [],
    defaultCapacityProviderStrategy: [],
    ...(include.includes('SETTINGS') ? { settings: row.settings } : {}),
    ...(include.includes('TAGS') ? { tags: await listTags(ctx.db, arn) } : {}),
  };
}

export const CreateCluster = defineAction(
  'Creates a cluster, or returns the existing ACTIVE cluster of that name.',
  z.object({
    clusterName: clusterName.optional(),
    tags: z.array(Tag).optional(),
    settings: z.array(ClusterSetting).max(1).optional(),
    capacityProviders: z.array(z.string()).optional(),
  }),
  async (ctx, input) => {
    if (input.capacityProviders && input.capacityProviders.length > 0) {
      throw new UnsupportedFeatureError('Capacity providers are an AWS feature that bosun does not have.');
    }
    const name = input.clusterName ?? 'default';
    const tags = parseTags(input.tags ?? []);
    const settings = input.settings ?? DEFAULT_SETTINGS;
    const arn = arns.cluster(ctx.scope, name);
    const row = await ctx.db.transaction(async (tx) => {
      const inserted = await insertClusterIfNew(tx, name, settings);
      if (inserted) {
        await putTags(tx, arn, tags);
        return inserted;
      }
      const existing = await findCluster(tx, ctx.scope, name, { lock: 'update' });
      if (!existing) throw new ClusterNotFoundError();
      if (existing.status === 'ACTIVE') return existing; // ECS: creating an existing cluster is a no-op
      // A deleted (INACTIVE) cluster comes back as new: fresh settings and tags.
      const revived = await reviveCluster(tx, existing.id, settings, ctx.now);
      await removeTags(tx, arn);
      await putTags(tx, arn, tags);
      return revived ?? existing;
    });
    return { cluster: await describeCluster(ctx, row, undefined, ['SETTINGS', 'TAGS']) };
  },
);

export const DescribeClusters = defineAction(
  'Describes up to 100 clusters; unknown ones come back in failures[] as MISSING.',
  z.object({
    clusters: z.array(clusterRef).max(100).optional(),
    include: z.array(ClusterInclude).optional(),
  }),
  async (ctx, input) => {
    const refs = input.clusters && input.clusters.length > 0 ? input.clusters : ['default'];
    const found: ClusterRow[] = [];
    const failures: { arn: string; reason: string }[] = [];
    for (const ref of refs) {
      const row = await findCluster(ctx.db, ctx.scope, ref);
      if (row) found.push(row);
      else
        failures.push({
          arn: ref.startsWith('arn:') ? ref : arns.cluster(ctx.scope, ref),
          reason: 'MISSING',
        });
    }
    const counts = await clusterCounts(
      ctx.db,
      found.map((r) => r.id),
    );
    const include = input.include ?? [];
    return {
      clusters: await Promise.all(found.map((r) => describeCluster(ctx, r, counts.get(r.id), include))),
      failures,
    };
  },
);

export const ListClusters = defineAction(
  'Lists the ARNs of ACTIVE clusters, by name.',
  z.object({ maxResults, nextToken }),
  async (ctx, input) => {
    const limit = input.maxResults ?? 100;
    const after = decodeToken(input.nextToken, ['string']);
    const names = await listActiveClusterNames(ctx.db, {
      afterName: after ? String(after[0]) : undefined,
      limit: limit + 1,
    });
    const { items, nextToken: token } = page(names, limit, (name) => [name]);
    return {
      clusterArns: items.map((name) => arns.cluster(ctx.scope, name)),
      ...(token ? { nextToken: token } : {}),
    };
  },
);

export const DeleteCluster = defineAction(
  'Deletes an empty cluster; refuses while it holds container instances, services or tasks.',
  z.object({ cluster: clusterRef }),
  async (ctx, input) => {
    const row = await ctx.db.transaction(async (tx) => {
      // The row lock makes a concurrent RunTask or registration wait, so nothing slips in meanwhile.
      const cluster = await findCluster(tx, ctx.scope, input.cluster, { lock: 'update' });
      if (cluster?.status !== 'ACTIVE') throw new ClusterNotFoundError();
      const occupants = await clusterOccupants(tx, cluster.id);
      if (occupants.instances > 0) {
        throw new ClusterNotEmptyError(
          'ClusterContainsContainerInstancesException',
          `The Cluster cannot be deleted while Container Instances are active or draining (${occupants.instances} registered).`,
        );
      }
      if (occupants.services > 0) {
        throw new ClusterNotEmptyError(
          'ClusterContainsServicesException',
          `The Cluster cannot be deleted while Services are active (${occupants.services} active).`,
        );
      }
      if (occupants.tasks > 0) {
        throw new ClusterNotEmptyError(
          'ClusterContainsTasksException',
          `The Cluster cannot be deleted while Tasks are active (${occupants.tasks} not yet stopped).`,
        );
      }
      return (await markClusterInactive(tx, cluster.id, ctx.now)) ?? cluster;
    });
    return { cluster: await describeCluster(ctx, row, undefined, ['SETTINGS']) };
  },
);
