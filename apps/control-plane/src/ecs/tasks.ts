import {
  arns,
  ClientError,
  type ContainerOverride,
  InvalidParameterError,
  MAX_TAGS_PER_RESOURCE,
  PlacementConstraint,
  PlacementStrategy,
  parseTags,
  Tag,
  type TagPair,
  type TaskDefinitionSpec,
  TaskOverride,
  UnsupportedFeatureError,
} from '@bosun/model';
import { z } from 'zod';
import { channels } from '../agent-protocol/wake-ups.ts';
import type { PlacementSpec } from '../db/schema/index.ts';
import {
  type ClusterRow,
  requireActive,
  requireActiveCluster,
  requireClusterName,
} from '../repositories/clusters.ts';
import { clusterHasInstances } from '../repositories/container-instances.ts';
import { listTagsOfMany } from '../repositories/tags.ts';
import type { TaskDefinitionRow } from '../repositories/task-definitions.ts';
import {
  describeTask,
  findClusterTasks,
  findTasks,
  listClusterTaskIds,
  requestTaskStops,
  type TaskView,
  taskIdFromRef,
} from '../repositories/tasks.ts';
import { applyOverrides } from '../scheduling/inputs.ts';
import { submitPlacement } from '../scheduling/submit.ts';
import { nudge } from '../workers/queues.ts';
import { type ActionContext, defineAction } from './action.ts';
import { instanceIdFromRef } from './container-instances.ts';
import { type Cursor, decodeToken, maxResults, nextToken, page } from './pagination.ts';
import { compileConstraints, compileStrategy } from './placement-input.ts';
import { clusterRef, launchType, taskDefinitionRef } from './shapes.ts';
import { resolveTaskDefinition } from './task-definitions.ts';

const startedBy = z.string().min(1).max(128).optional();
const group = z.string().min(1).max(255).optional();

/** The parts RunTask and StartTask share, checked before anything is stored. */
interface Prepared {
  cluster: ClusterRow;
  definition: TaskDefinitionRow;
  spec: Omit<PlacementSpec, 'count' | 'constraints' | 'strategy' | 'containerInstanceIds'>;
}

async function prepare(
  ctx: ActionContext,
  input: {
    cluster?: string | undefined;
    taskDefinition: string;
    startedBy?: string | undefined;
    group?: string | undefined;
    overrides?: z.output<typeof TaskOverride> | undefined;
    tags?: z.output<typeof Tag>[] | undefined;
    launchType?: z.output<typeof launchType>;
  },
): Promise<Prepared> {
  if (input.launchType === 'FARGATE') {
    throw new UnsupportedFeatureError(
      'FARGATE is an AWS launch type; bosun runs tasks on its own Docker hosts.',
    );
  }
  const cluster = await requireActiveCluster(ctx.db, ctx.scope, input.cluster);
  const definition = await resolveTaskDefinition(ctx, input.taskDefinition);
  const containerOverrides = input.overrides?.containerOverrides ?? [];
  checkOverrides(definition.spec, containerOverrides);
  const tags = parseTags(input.tags ?? []);
  return {
    cluster,
    definition,
    spec: {
      family: definition.family,
      revision: definition.revision,
      group: input.group ?? `family:${definition.family}`,
      ...(input.startedBy === undefined ? {} : { startedBy: input.startedBy }),
      containerOverrides,
      tags,
    },
  };
}

function checkOverrides(spec: TaskDefinitionSpec, overrides: readonly ContainerOverride[]): void {
  const names = new Set(spec.containerDefinitions.map((c) => c.name));
  const seen = new Set<string>();
  for (const o of overrides) {
    if (!names.has(o.name)) {
      throw new InvalidParameterError(
        `Override for container named ${o.name} is not a container in the TaskDefinition.`,
      );
    }
    if (seen.has(o.name)) throw new InvalidParameterError(`Container ${o.name} is overridden twice.`);
    seen.add(o.name);
  }
  const applied = applyOverrides(spec, overrides);
  for (const c of applied.containerDefinitions) {
    if (c.memory !== undefined && c.memoryReservation !== undefined && c.memory < c.memoryReservation) {
      throw new ClientError(
        `Invalid setting for container '${c.name}'. The memory reservation must be less than or equal to the memory limit.`,
      );
    }
  }
}

/** The RunTask/StartTask answer: the placed tasks as DescribeTasks shows them, and failures[]. */
async function answer(
  ctx: ActionContext,
  cluster: ClusterRow,
  outcome: { taskIds: string[]; failures: { arn: string; reason: string; detail?: string }[] },
  tags: readonly TagPair[],
) {
  const rows = await findTasks(ctx.db, cluster.id, outcome.taskIds);
  const byKey = [...tags].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const byId = new Map(rows.map((r) => [r.id, r]));
  const placed = outcome.taskIds.flatMap((id) => {
    const row = byId.get(id);
    return row === undefined ? [] : [row];
  });
  return {
    // The tasks were created with exactly the call's tags a moment ago: no need to read them back
    // (sorted by key, as DescribeTasks lists them).
    tasks: placed.map((r) => describeTask(ctx.scope, cluster.name, r, byKey)),
    failures: outcome.failures,
  };
}

/** Tasks as DescribeTasks shows them, with their tags (read in one query) when asked. */
async function describeTasks(
  ctx: ActionContext,
  clusterName: string,
  rows: readonly TaskView[],
  withTags: boolean,
) {
  if (!withTags) return rows.map((r) => describeTask(ctx.scope, clusterName, r, undefined));
  const arnOf = (r: TaskView) => arns.task(ctx.scope, clusterName, r.id);
  const tags = await listTagsOfMany(ctx.db, rows.map(arnOf));
  return rows.map((r) => describeTask(ctx.scope, clusterName, r, tags.get(arnOf(r)) ?? []));
}

export const RunTask = defineAction(
  'Starts count (1-10) copies of a task definition, placed by the cluster scheduler.',
  z.object({
    cluster: clusterRef.optional(),
    taskDefinition: taskDefinitionRef,
    count: z.number().int().min(1).max(10).optional(),
    startedBy,
    group,
    overrides: TaskOverride.optional(),
    placementConstraints: z.array(PlacementConstraint).max(10).optional(),
    placementStrategy: z.array(PlacementStrategy).max(5).optional(),
    tags: z.array(Tag).max(MAX_TAGS_PER_RESOURCE).optional(),
    clientToken: z.string().min(1).max(64).optional(),
    launchType,
  }),
  async (ctx, input) => {
    const prepared = await prepare(ctx, input);
    const spec: PlacementSpec = {
      ...prepared.spec,
      count: input.count ?? 1,
      constraints: compileConstraints(input.placementConstraints ?? [], prepared.definition.spec),
      strategy: compileStrategy(input.placementStrategy ?? []),
    };
    if (!(await clusterHasInstances(ctx.db, prepared.cluster.id))) {
      throw new InvalidParameterError('No Container Instances were found in your cluster.');
    }
    const outcome = await submitPlacement(ctx, prepared.cluster.id, spec, input.clientToken);
    return answer(ctx, prepared.cluster, outcome, prepared.spec.tags);
  },
);

export const StartTask = defineAction(
  'Starts one copy of a task definition on each named container instance.',
  z.object({
    cluster: clusterRef.optional(),
    taskDefinition: taskDefinitionRef,
    containerInstances: z.array(z.string().min(1).max(2048)).min(1).max(10),
    startedBy,
    group,
    overrides: TaskOverride.optional(),
    tags: z.array(Tag).max(MAX_TAGS_PER_RESOURCE).optional(),
  }),
  async (ctx, input) => {
    const prepared = await prepare(ctx, input);
    const ids = input.containerInstances.map((ref) => {
      const id = instanceIdFromRef(ref, prepared.cluster.name);
      if (id === undefined) throw new InvalidParameterError(`Invalid container instance reference '${ref}'.`);
      return id;
    });
    const spec: PlacementSpec = {
      ...prepared.spec,
      count: ids.length,
      constraints: [],
      strategy: [],
      containerInstanceIds: ids,
    };
    const outcome = await submitPlacement(ctx, prepared.cluster.id, spec, undefined);
    return answer(ctx, prepared.cluster, outcome, prepared.spec.tags);
  },
);

export const StopTask = defineAction(
  'Asks the agent to stop a task; stopCode UserInitiated, reason as stoppedReason.',
  z.object({
    cluster: clusterRef.optional(),
    task: z.string().min(1).max(2048),
    reason: z.string().max(255).optional(),
  }),
  async (ctx, input) => {
    const cluster = await requireActiveCluster(ctx.db, ctx.scope, input.cluster);
    const id = taskIdFromRef(ctx.scope, cluster.name, input.task);
    const missing = () => new InvalidParameterError('The referenced task was not found.');
    if (id === undefined) throw missing();
    const result = await ctx.db.transaction((tx) =>
      requestTaskStops(
        tx,
        cluster.id,
        [{ taskId: id, stopCode: 'UserInitiated', reason: input.reason ?? 'Task stopped by user' }],
        ctx.now,
      ),
    );
    const row = result.rows[0];
    if (row === undefined) throw missing();
    for (const instanceId of result.instanceIds) {
      ctx.log.info({ taskId: id, instanceId }, 'task desiredStatus RUNNING->STOPPED');
      await ctx.runtime.notifier.publish(channels.instance(instanceId));
    }
    // A service replaces a task stopped under it at once rather than at the next sweep.
    if (result.stopped.length > 0 && row.serviceId !== null) {
      const serviceId = row.serviceId;
      await nudge(ctx.log, 'a service evaluation', () =>
        ctx.runtime.queues.evaluateService(serviceId, 'task-changed'),
      );
    }
    return { task: describeTask(ctx.scope, cluster.name, row, undefined) };
  },
);

export const DescribeTasks = defineAction(
  'Describes up to 100 tasks; unknown ones come back in failures[] as MISSING.',
  z.object({
    cluster: clusterRef.optional(),
    tasks: z.array(z.string().min(1).max(2048)).min(1).max(100),
    include: z.array(z.literal('TAGS')).optional(),
  }),
  async (ctx, input) => {
    const clusterName = requireClusterName(ctx.scope, input.cluster);
    const wanted = input.tasks.map((ref) => ({ ref, id: taskIdFromRef(ctx.scope, clusterName, ref) }));
    const { cluster, tasks: rows } = await findClusterTasks(
      ctx.db,
      clusterName,
      wanted.flatMap((w) => (w.id ? [w.id] : [])),
    );
    requireActive(cluster);
    const byId = new Map(rows.map((r) => [r.id, r]));
    const withTags = input.include?.includes('TAGS') ?? false;
    const found: TaskView[] = [];
    const failures: { arn: string; reason: string }[] = [];
    for (const w of wanted) {
      const row = w.id === undefined ? undefined : byId.get(w.id);
      if (row) found.push(row);
      else
        failures.push({
          arn: w.ref.startsWith('arn:') ? w.ref : arns.task(ctx.scope, clusterName, w.ref),
          reason: 'MISSING',
        });
    }
    return { tasks: await describeTasks(ctx, clusterName, found, withTags), failures };
  },
);

export const ListTasks = defineAction(
  'Lists task ARNs of a cluster, filtered; desiredStatus defaults to RUNNING.',
  z.object({
    cluster: clusterRef.optional(),
    containerInstance: z.string().min(1).max(2048).optional(),
    family: z.string().min(1).max(255).optional(),
    startedBy: z.string().min(1).max(128).optional(),
    serviceName: z.string().min(1).max(255).optional(),
    desiredStatus: z.enum(['RUNNING', 'PENDING', 'STOPPED']).optional(),
    launchType: z.enum(['EC2', 'FARGATE', 'EXTERNAL']).optional(),
    maxResults,
    nextToken,
  }),
  async (ctx, input) => {
    const clusterName = requireClusterName(ctx.scope, input.cluster);
    const limit = input.maxResults ?? 100;
    let after: Cursor | undefined;
    try {
      after = decodeToken(input.nextToken, ['string']);
    } catch (e) {
      // A missing cluster is reported before a bad token, as when the cluster was read first.
      await requireActiveCluster(ctx.db, ctx.scope, input.cluster);
      throw e;
    }
    const instanceId =
      input.containerInstance === undefined
        ? undefined
        : instanceIdFromRef(input.containerInstance, clusterName);
    // ECS accepts PENDING here but never matches it (desiredStatus is RUNNING or STOPPED); bosun tasks
    // are all EC2-style.
    const nothing =
      input.desiredStatus === 'PENDING' ||
      (input.launchType !== undefined && input.launchType !== 'EC2') ||
      (input.containerInstance !== undefined && instanceId === undefined);
    let ids: string[] = [];
    if (nothing) {
      await requireActiveCluster(ctx.db, ctx.scope, input.cluster);
    } else {
      const found = await listClusterTaskIds(ctx.db, clusterName, {
        desiredStatus: input.desiredStatus === 'STOPPED' ? 'STOPPED' : 'RUNNING',
        containerInstanceId: instanceId,
        family: input.family,
        startedBy: input.startedBy,
        group: input.serviceName === undefined ? undefined : `service:${input.serviceName}`,
        afterId: after ? String(after[0]) : undefined,
        limit: limit + 1,
      });
      requireActive(found.cluster);
      ids = found.ids;
    }
    const { items, nextToken: token } = page(ids, limit, (id) => [id]);
    return {
      taskArns: items.map((id) => arns.task(ctx.scope, clusterName, id)),
      ...(token ? { nextToken: token } : {}),
    };
  },
);
