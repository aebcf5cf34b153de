import { createHash, randomBytes } from 'node:crypto';
import { arns, InvalidParameterError, parseArn } from '@bosun/model';
import { z } from 'zod';
import { joinTokens } from '../db/schema/index.ts';
import { requireActiveCluster } from '../repositories/clusters.ts';
import {
  type ContainerInstanceRow,
  findInstances,
  type InstanceUsage,
  instanceUsage,
  listInstanceIds,
} from '../repositories/container-instances.ts';
import { listTags } from '../repositories/tags.ts';
import { type ActionContext, defineAction } from './action.ts';
import { decodeToken, encodeToken, maxResults, nextToken } from './pagination.ts';
import { clusterRef, epochSeconds } from './shapes.ts';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const isAgentConnected = (row: ContainerInstanceRow, ctx: ActionContext): boolean =>
  row.lastHeartbeatAt !== null &&
  ctx.now.getTime() - row.lastHeartbeatAt.getTime() < ctx.settings.agentTimeoutMs;

/** `id` or a container-instance ARN of this cluster → the id, or undefined. */
export function instanceIdFromRef(ref: string, clusterName: string): string | undefined {
  if (!ref.startsWith('arn:')) return UUID_RE.test(ref) ? ref : undefined;
  const arn = parseArn(ref);
  if (arn?.kind !== 'container-instance') return undefined;
  const id = arn.parts.length === 2 && arn.parts[0] === clusterName ? arn.parts[1] : undefined;
  return id && UUID_RE.test(id) ? id : undefined;
}

function ports(list: readonly string[], protocol: 'tcp' | 'udp'): string[] {
  return list
    .filter((p) => p.startsWith(`${protocol}:`))
    .map((p) => p.slice(protocol.length + 1))
    .sort((a, b) => Number(a) - Number(b));
}

function resources(cpu: number, memory: number, portList: readonly string[]) {
  return [
    { name: 'CPU', type: 'INTEGER', integerValue: cpu, doubleValue: 0, longValue: 0 },
    { name: 'MEMORY', type: 'INTEGER', integerValue: memory, doubleValue: 0, longValue: 0 },
    {
      name: 'PORTS',
      type: 'STRINGSET',
      stringSetValue: ports(portList, 'tcp'),
      doubleValue: 0,
      longValue: 0,
      integerValue: 0,
    },
    {
      name: 'PORTS_UDP',
      type: 'STRINGSET',
      stringSetValue: ports(portList, 'udp'),
      doubleValue: 0,
      longValue: 0,
      integerValue: 0,
    },
  ];
}

export async function describeInstance(
  ctx: ActionContext,
  clusterName: string,
  row: ContainerInstanceRow,
  usage: InstanceUsage | undefined,
  withTags: boolean,
) {
  const arn = arns.containerInstance(ctx.scope, clusterName, row.id);
  const used = usage ?? { cpu: 0, memory: 0, ports: [], running: 0, pending: 0 };
  return {
    containerInstanceArn: arn,
    ec2InstanceId: row.hostname,
    status: row.status,
    agentConnected: isAgentConnected(row, ctx),
    runningTasksCount: used.running,
    pendingTasksCount: used.pending,
    registeredResources: resources(row.registeredCpu, row.registeredMemory, row.reservedPorts),
    remainingResources: resources(row.registeredCpu - used.cpu, row.registeredMemory - used.memory, [
      ...new Set([...row.reservedPorts, ...used.ports]),
    ]),
    attributes: row.attributes,
    ...(row.versionInfo ? { versionInfo: row.versionInfo } : {}),
    registeredAt: epochSeconds(row.registeredAt),
    version: row.desiredVersion,
    ...(withTags ? { tags: await listTags(ctx.db, arn) } : {}),
  };
}

export const ListContainerInstances = defineAction(
  'Lists container instances of a cluster (not INACTIVE ones unless asked by status).',
  z.object({
    cluster: clusterRef.optional(),
    status: z.enum(['ACTIVE', 'DRAINING', 'REGISTERING', 'DEREGISTERING', 'REGISTRATION_FAILED']).optional(),
    filter: z.string().max(2000).optional(),
    maxResults,
    nextToken,
  }),
  async (ctx, input) => {
    const cluster = await requireActiveCluster(ctx.db, ctx.scope, input.cluster);
    if (input.filter !== undefined) {
      throw new InvalidParameterError('filter is not supported yet: list without it and filter client-side.');
    }
    const limit = input.maxResults ?? 100;
    const after = decodeToken(input.nextToken, ['string']);
    const ids = await listInstanceIds(ctx.db, cluster.id, {
      ...(input.status ? { status: input.status } : {}),
      ...(after ? { afterId: String(after[0]) } : {}),
      limit: limit + 1,
    });
    const page = ids.slice(0, limit);
    return {
      containerInstanceArns: page.map((id) => arns.containerInstance(ctx.scope, cluster.name, id)),
      ...(ids.length > limit ? { nextToken: encodeToken([page[page.length - 1] ?? '']) } : {}),
    };
  },
);

export const DescribeContainerInstances = defineAction(
  'Describes up to 100 container instances with registered and remaining resources.',
  z.object({
    cluster: clusterRef.optional(),
    containerInstances: z.array(z.string().min(1).max(2048)).min(1).max(100),
    include: z.array(z.enum(['TAGS', 'CONTAINER_INSTANCE_HEALTH'])).optional(),
  }),
  async (ctx, input) => {
    const cluster = await requireActiveCluster(ctx.db, ctx.scope, input.cluster);
    const wanted = input.containerInstances.map((ref) => ({ ref, id: instanceIdFromRef(ref, cluster.name) }));
    const rows = await findInstances(
      ctx.db,
      cluster.id,
      wanted.flatMap((w) => (w.id ? [w.id] : [])),
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    const usage = await instanceUsage(
      ctx.db,
      rows.map((r) => r.id),
    );
    const withTags = input.include?.includes('TAGS') ?? false;
    const found: ContainerInstanceRow[] = [];
    const failures: { arn: string; reason: string }[] = [];
    for (const w of wanted) {
      const row = w.id ? byId.get(w.id) : undefined;
      if (row) found.push(row);
      else
        failures.push({
          arn: w.ref.startsWith('arn:') ? w.ref : arns.containerInstance(ctx.scope, cluster.name, w.ref),
          reason: 'MISSING',
        });
    }
    return {
      containerInstances: await Promise.all(
        found.map((r) => describeInstance(ctx, cluster.name, r, usage.get(r.id), withTags)),
      ),
      failures,
    };
  },
);

export const hashSecret = (secret: string): string =>
  createHash('sha256').update(secret, 'utf8').digest('hex');

/** bosun's own action: a token that lets a new Docker host join one cluster. */
export const CreateJoinToken = defineAction(
  'Creates a token with which an agent registers a new container instance in the cluster.',
  z.object({
    cluster: clusterRef.optional(),
    expiresInSeconds: z
      .number()
      .int()
      .min(60)
      .max(365 * 24 * 3600)
      .optional(),
  }),
  async (ctx, input) => {
    const cluster = await requireActiveCluster(ctx.db, ctx.scope, input.cluster);
    const token = `bjt_${randomBytes(32).toString('base64url')}`;
    const expiresAt = input.expiresInSeconds
      ? new Date(ctx.now.getTime() + input.expiresInSeconds * 1000)
      : null;
    await ctx.db
      .insert(joinTokens)
      .values({ clusterId: cluster.id, tokenHash: hashSecret(token), expiresAt });
    return {
      joinToken: token,
      clusterArn: arns.cluster(ctx.scope, cluster.name),
      ...(expiresAt ? { expiresAt: epochSeconds(expiresAt) } : {}),
    };
  },
);
