import { createHash, randomBytes } from 'node:crypto';
import { arns, formatJoinToken, InvalidParameterError, parseArn } from '@bosun/model';
import { evaluateClusterQuery, type QueryAst } from '@bosun/scheduler';
import { z } from 'zod';
import { channels } from '../agent-protocol/wake-ups.ts';
import { databaseNow } from '../db/now.ts';
import { type ClusterRow, requireActiveCluster } from '../repositories/clusters.ts';
import {
  type ContainerInstanceRow,
  countLiveTasks,
  findInstances,
  type InstanceUsage,
  instanceUsage,
  listInstanceIds,
  lockInstances,
  orphanTasksOfInstance,
  setInstanceStatus,
  stopUnstartedServiceTasks,
} from '../repositories/container-instances.ts';
import { loadSnapshot } from '../repositories/instance-snapshot.ts';
import { insertJoinToken } from '../repositories/join-tokens.ts';
import { evaluateClusterServices } from '../repositories/services.ts';
import { listTags } from '../repositories/tags.ts';
import { agentConnected } from '../scheduling/inputs.ts';
import { nudge } from '../workers/queues.ts';
import { type ActionContext, defineAction } from './action.ts';
import { decodeToken, encodeToken, maxResults, nextToken } from './pagination.ts';
import { parseClusterQueryAt } from './placement-input.ts';
import { clusterRef, epochSeconds } from './shapes.ts';

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A deregistered instance's agent is refused, so it is never connected, however recent its last call.
 * `databaseNow` is Postgres' clock, which contacts are written with (db/now.ts).
 */
const isAgentConnected = (row: ContainerInstanceRow, ctx: ActionContext, databaseNow: Date): boolean =>
  row.status !== 'INACTIVE' && agentConnected(row.lastHeartbeatAt, databaseNow, ctx.settings.agentTimeoutMs);

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
  databaseNow: Date,
) {
  const arn = arns.containerInstance(ctx.scope, clusterName, row.id);
  const used = usage ?? { cpu: 0, memory: 0, ports: [], running: 0, pending: 0 };
  return {
    containerInstanceArn: arn,
    ec2InstanceId: row.hostname,
    status: row.status,
    agentConnected: isAgentConnected(row, ctx, databaseNow),
    runningTasksCount: used.running,
    pendingTasksCount: used.pending,
    registeredResources: resources(row.registeredCpu, row.registeredMemory, row.reservedPorts),
    remainingResources: resources(row.registeredCpu - used.cpu, row.registeredMemory - used.memory, [
      ...new Set([...row.reservedPorts, ...used.ports]),
    ]),
    // `custom` marks who owns an attribute (see ecs/attributes.ts); ECS's shape has no such field.
    attributes: row.attributes.map((a) =>
      a.value === undefined ? { name: a.name } : { name: a.name, value: a.value },
    ),
    ...(row.versionInfo ? { versionInfo: row.versionInfo } : {}),
    registeredAt: epochSeconds(row.registeredAt),
    version: row.desiredVersion,
    ...(withTags ? { tags: await listTags(ctx.db, arn) } : {}),
  };
}

/**
 * The one place the rest of the control plane hears that instances of a cluster changed in a way the
 * services scheduler cares about: drained, re-activated, deregistered, attributes changed (DAEMON
 * services and memberOf constraints read them). Called after the change is committed: every live
 * service of the cluster is queued for an evaluation (src/workers/services.ts), which replaces the
 * RUNNING service tasks of a draining instance within the service's min/max percent.
 */
export async function onInstancesChanged(ctx: ActionContext, clusterId: string): Promise<void> {
  await nudge(ctx.log, "evaluations of the cluster's services", async () => {
    const queued = await evaluateClusterServices(ctx.db, ctx.runtime.queues, clusterId, 'instances-changed');
    ctx.log.debug({ clusterId, services: queued }, 'container instances changed');
  });
}

/** Instances read per round when a filter has to be evaluated in process. */
const FILTER_BATCH = 200;

/**
 * Ids of instances (id order, after `afterId`) that match a cluster query, at most `limit`. The query
 * is evaluated on the same snapshot placement uses for memberOf (candidates.ts), so a filter and a
 * constraint with the same expression pick the same instances.
 */
async function filteredInstanceIds(
  ctx: ActionContext,
  cluster: ClusterRow,
  ast: QueryAst,
  opts: { status?: string; afterId?: string; limit: number },
): Promise<string[]> {
  const out: string[] = [];
  let cursor = opts.afterId;
  for (;;) {
    const ids = await listInstanceIds(ctx.db, cluster.id, {
      ...(opts.status ? { status: opts.status } : {}),
      ...(cursor ? { afterId: cursor } : {}),
      limit: FILTER_BATCH,
    });
    if (ids.length === 0) return out;
    const snapshot = await loadSnapshot(ctx.db, cluster.id, {
      scope: ctx.scope,
      clusterName: cluster.name,
      agentTimeoutMs: ctx.settings.agentTimeoutMs,
      ids,
    });
    for (const s of snapshot) {
      if (!evaluateClusterQuery(ast, s.candidate)) continue;
      out.push(s.row.id);
      if (out.length >= opts.limit) return out;
    }
    if (ids.length < FILTER_BATCH) return out;
    cursor = ids[ids.length - 1];
  }
}

export const ListContainerInstances = defineAction(
  'Lists container instances of a cluster (not INACTIVE ones), by status and cluster query filter.',
  z.object({
    cluster: clusterRef.optional(),
    status: z.enum(['ACTIVE', 'DRAINING', 'REGISTERING', 'DEREGISTERING', 'REGISTRATION_FAILED']).optional(),
    filter: z.string().max(2000).optional(),
    maxResults,
    nextToken,
  }),
  async (ctx, input) => {
    const ast =
      input.filter !== undefined && input.filter.trim() !== ''
        ? parseClusterQueryAt('filter', input.filter)
        : undefined;
    const cluster = await requireActiveCluster(ctx.db, ctx.scope, input.cluster);
    const limit = input.maxResults ?? 100;
    const after = decodeToken(input.nextToken, ['string']);
    const afterId = after ? instanceIdFromRef(String(after[0]), cluster.name) : undefined;
    if (after && afterId === undefined) {
      throw new InvalidParameterError(
        'Invalid nextToken: pass the nextToken value from the previous response as is.',
      );
    }
    const opts = {
      ...(input.status ? { status: input.status } : {}),
      ...(afterId ? { afterId } : {}),
      limit: limit + 1,
    };
    const ids = ast
      ? await filteredInstanceIds(ctx, cluster, ast, opts)
      : await listInstanceIds(ctx.db, cluster.id, opts);
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
    const now = await databaseNow(ctx.db);
    return {
      containerInstances: await Promise.all(
        found.map((r) => describeInstance(ctx, cluster.name, r, usage.get(r.id), withTags, now)),
      ),
      failures,
    };
  },
);

/** The instances as DescribeContainerInstances shows them, in the order of `ids`, read fresh. */
async function describeIds(ctx: ActionContext, cluster: ClusterRow, ids: readonly string[]) {
  const rows = await findInstances(ctx.db, cluster.id, [...ids]);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const usage = await instanceUsage(
    ctx.db,
    rows.map((r) => r.id),
  );
  const ordered = ids.flatMap((id) => {
    const row = byId.get(id);
    return row === undefined ? [] : [row];
  });
  const now = await databaseNow(ctx.db);
  return Promise.all(ordered.map((r) => describeInstance(ctx, cluster.name, r, usage.get(r.id), false, now)));
}

/** Wakes the agents whose desired state changed, after the change is committed. */
async function wake(ctx: ActionContext, instanceIds: readonly string[]): Promise<void> {
  await Promise.all(instanceIds.map((id) => ctx.runtime.notifier.publish(channels.instance(id))));
}

export const UpdateContainerInstancesState = defineAction(
  'Sets up to 10 container instances ACTIVE or DRAINING; draining stops unstarted service tasks there.',
  z.object({
    cluster: clusterRef.optional(),
    containerInstances: z.array(z.string().min(1).max(2048)).min(1).max(10),
    status: z.enum(['ACTIVE', 'DRAINING']),
  }),
  async (ctx, input) => {
    const cluster = await requireActiveCluster(ctx.db, ctx.scope, input.cluster);
    const wanted = input.containerInstances.map((ref) => ({ ref, id: instanceIdFromRef(ref, cluster.name) }));
    const failures: { arn: string; reason: string; detail?: string }[] = [];
    const arnOf = (ref: string) =>
      ref.startsWith('arn:') ? ref : arns.containerInstance(ctx.scope, cluster.name, ref);
    // 1. The status, under the instance locks: once this commits, placement's re-check under the same
    //    locks refuses the instance, so nothing new lands on a draining host after this point.
    const changed = await ctx.db.transaction(async (tx) => {
      const ids = [...new Set(wanted.flatMap((w) => (w.id ? [w.id] : [])))];
      const rows = new Map((await lockInstances(tx, cluster.id, ids)).map((r) => [r.id, r]));
      const ok: string[] = [];
      for (const w of wanted) {
        const row = w.id === undefined ? undefined : rows.get(w.id);
        if (row === undefined) failures.push({ arn: arnOf(w.ref), reason: 'MISSING' });
        else if (row.status === 'INACTIVE') {
          failures.push({
            arn: arns.containerInstance(ctx.scope, cluster.name, row.id),
            reason: 'INACTIVE',
            detail: 'The container instance is deregistered; its status cannot change.',
          });
        } else if (!ok.includes(row.id)) ok.push(row.id);
      }
      const moving = ok.filter((id) => rows.get(id)?.status !== input.status);
      for (const id of moving) await setInstanceStatus(tx, id, input.status, ctx.now);
      return { ok, moving };
    });
    for (const id of changed.moving)
      ctx.log.info({ instanceId: id }, `container instance -> ${input.status}`);
    // 2. A transaction of its own, locking task rows before instance rows like StopTask does (the
    //    other order could deadlock with it). Run for every draining instance named, not only the
    //    ones that just moved, so a retry after a failure here finishes the job.
    let stoppedTasks = 0;
    if (input.status === 'DRAINING' && changed.ok.length > 0) {
      const stopped = await ctx.db.transaction((tx) => stopUnstartedServiceTasks(tx, changed.ok, ctx.now));
      for (const taskId of stopped.taskIds)
        ctx.log.info({ taskId }, 'service task stopped: instance draining');
      await wake(ctx, stopped.instanceIds);
      stoppedTasks = stopped.taskIds.length;
    }
    if (changed.moving.length > 0 || stoppedTasks > 0) await onInstancesChanged(ctx, cluster.id);
    return { containerInstances: await describeIds(ctx, cluster, changed.ok), failures };
  },
);

export const DeregisterContainerInstance = defineAction(
  'Deregisters a container instance (INACTIVE); with tasks on it only with force, which stops them.',
  z.object({
    cluster: clusterRef.optional(),
    containerInstance: z.string().min(1).max(2048),
    force: z.boolean().optional(),
  }),
  async (ctx, input) => {
    const cluster = await requireActiveCluster(ctx.db, ctx.scope, input.cluster);
    const id = instanceIdFromRef(input.containerInstance, cluster.name);
    const missing = () => new InvalidParameterError('The referenced container instance was not found.');
    if (id === undefined) throw missing();
    // 1. Under the instance lock (placement cannot add a task meanwhile): the task check and INACTIVE.
    //    INACTIVE is what revokes the agent: its credential is refused from now on ("This container
    //    instance was deregistered."), and no call brings an instance back (a host that joins again is
    //    a new instance).
    const moved = await ctx.db.transaction(async (tx) => {
      const [row] = await lockInstances(tx, cluster.id, [id]);
      if (row === undefined) throw missing();
      if (row.status === 'INACTIVE') return false;
      if (!input.force && (await countLiveTasks(tx, id)) > 0) {
        throw new InvalidParameterError(
          'The specified container instance has tasks running. Use force to deregister.',
        );
      }
      await setInstanceStatus(tx, id, 'INACTIVE', ctx.now);
      return true;
    });
    if (moved) ctx.log.info({ instanceId: id }, 'container instance deregistered');
    // 2. Its tasks stop for bosun (see orphanTasksOfInstance), task rows locked before the instance
    //    row as StopTask does. Also for an instance that was already INACTIVE: a retry completes a
    //    deregistration whose second step failed.
    const orphaned = await ctx.db.transaction((tx) => orphanTasksOfInstance(tx, id, ctx.now));
    for (const taskId of orphaned)
      ctx.log.info({ taskId, instanceId: id }, 'task STOPPED: instance deregistered');
    // Answers a long-poll still open with the empty desired state at once.
    if (orphaned.length > 0) await wake(ctx, [id]);
    if (moved) await onInstancesChanged(ctx, cluster.id);
    const [described] = await describeIds(ctx, cluster, [id]);
    return { containerInstance: described };
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
    // The CA's fingerprint, so the joining agent can tell the real control plane (parseJoinToken).
    const token = formatJoinToken({
      caFingerprint: ctx.caFingerprint,
      secret: randomBytes(32).toString('base64url'),
    });
    const expiresAt = input.expiresInSeconds
      ? new Date(ctx.now.getTime() + input.expiresInSeconds * 1000)
      : null;
    await insertJoinToken(ctx.db, { clusterId: cluster.id, tokenHash: hashSecret(token), expiresAt });
    return {
      joinToken: token,
      clusterArn: arns.cluster(ctx.scope, cluster.name),
      ...(expiresAt ? { expiresAt: epochSeconds(expiresAt) } : {}),
    };
  },
);
