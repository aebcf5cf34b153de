import {
  type ArnScope,
  arns,
  InvalidParameterError,
  PlacementConstraint,
  PlacementStrategy,
  parseTags,
  ServiceNotActiveError,
  ServiceNotFoundError,
  Tag,
  type TagPair,
  UnsupportedFeatureError,
} from '@bosun/model';
import {
  createDeployment,
  resolveDeploymentConfiguration,
  type SchedulingStrategy,
  type ServiceDeployment,
  scalingActivityReason,
  startDeployment,
} from '@bosun/scheduler';
import { and, asc, eq, gt, ne } from 'drizzle-orm';
import { z } from 'zod';
import { type StoredDeploymentConfiguration, services, tasks } from '../db/schema/index.ts';
import { channels } from '../notifier.ts';
import {
  type ClusterRow,
  requireActive,
  requireActiveCluster,
  requireClusterName,
} from '../repositories/clusters.ts';
import {
  type DeploymentRow,
  type DeploymentView,
  deploymentTaskDefinition,
  findClusterServices,
  findLiveService,
  findServicesByName,
  listDeployments,
  listEvents,
  newDeploymentId,
  type ServiceEventView,
  type ServiceRow,
  serviceNameFromRef,
  toServiceDeployment,
  writeDeployments,
} from '../repositories/services.ts';
import { listTags, listTagsOfMany, putTags, removeTags } from '../repositories/tags.ts';
import { findTaskDefinition } from '../repositories/task-definitions.ts';
import { requestTaskStops } from '../repositories/tasks.ts';
import { type ActionContext, defineAction } from './action.ts';
import { decodeToken, page } from './pagination.ts';
import { compileConstraints, compileStrategy } from './placement-input.ts';
import { clusterRef, epochSeconds } from './shapes.ts';
import { resolveTaskDefinition } from './task-definitions.ts';

const serviceName = z
  .string()
  .regex(/^[a-zA-Z0-9_-]{1,255}$/, 'Service names must be 1-255 letters, numbers, hyphens and underscores.');
const serviceRef = z.string().min(1).max(2048);
const taskDefinitionRef = z.string().min(1).max(2048);

const DeploymentConfiguration = z.object({
  minimumHealthyPercent: z.number().int().min(0).max(100).optional(),
  maximumPercent: z.number().int().min(100).max(2000).optional(),
  deploymentCircuitBreaker: z.object({ enable: z.boolean(), rollback: z.boolean() }).optional(),
});

const launchType = z.enum(['EC2', 'EXTERNAL', 'FARGATE']).optional();

function checkLaunchType(value: z.output<typeof launchType>): void {
  if (value !== undefined && value !== 'EC2') {
    throw new UnsupportedFeatureError(
      `${value} is not a launch type bosun offers; services run with launchType EC2 on bosun's Docker hosts.`,
    );
  }
}

// ECS's own wording for DAEMON services.
const DAEMON_DESIRED_COUNT =
  'The daemon scheduling strategy does not support a desired count for services. Remove the desired count value and try again';
const DAEMON_STRATEGY =
  'The daemon scheduling strategy does not support placement strategies. Remove the placement strategy and try again';

/** A service as ECS's DescribeServices shows it. */
function describeService(
  scope: ArnScope,
  clusterName: string,
  row: ServiceRow,
  deploymentRows: readonly DeploymentView[],
  events: readonly ServiceEventView[],
  tags: readonly TagPair[] | undefined,
) {
  const serviceArn = arns.service(scope, clusterName, row.name);
  const config = resolveDeploymentConfiguration({
    name: row.name,
    arn: serviceArn,
    desiredCount: row.desiredCount,
    schedulingStrategy: row.schedulingStrategy,
    deploymentConfiguration: row.deploymentConfiguration,
    placementConstraints: [],
    placementStrategy: [],
  });
  const ordered = [...deploymentRows].sort(
    (a, b) =>
      (a.status === 'PRIMARY' ? -1 : b.status === 'PRIMARY' ? 1 : 0) ||
      b.createdAt.getTime() - a.createdAt.getTime(),
  );
  return {
    serviceArn,
    serviceName: row.name,
    clusterArn: arns.cluster(scope, clusterName),
    loadBalancers: [],
    serviceRegistries: [],
    status: row.status,
    desiredCount: row.desiredCount,
    runningCount: row.runningCount,
    pendingCount: row.pendingCount,
    launchType: row.launchType,
    taskDefinition: arns.taskDefinition(scope, row.family, row.revision),
    deploymentConfiguration: {
      deploymentCircuitBreaker: {
        enable: config.circuitBreaker.enable,
        rollback: config.circuitBreaker.rollback,
      },
      maximumPercent: config.maximumPercent,
      minimumHealthyPercent: config.minimumHealthyPercent,
    },
    deployments: ordered.map((d) => ({
      id: d.id,
      status: d.status,
      taskDefinition: arns.taskDefinition(scope, d.family, d.revision),
      desiredCount: d.desiredCount,
      pendingCount: d.pendingCount,
      runningCount: d.runningCount,
      failedTasks: d.failedTasks,
      createdAt: epochSeconds(d.createdAt),
      updatedAt: epochSeconds(d.updatedAt),
      launchType: row.launchType,
      rolloutState: d.rolloutState,
      rolloutStateReason: d.rolloutStateReason,
    })),
    events: events.map((e) => ({ id: e.id, createdAt: epochSeconds(e.createdAt), message: e.message })),
    createdAt: epochSeconds(row.createdAt),
    placementConstraints: row.placementConstraints,
    placementStrategy: row.placementStrategy,
    schedulingStrategy: row.schedulingStrategy,
    ...(row.healthCheckGracePeriodSeconds === null
      ? {}
      : { healthCheckGracePeriodSeconds: row.healthCheckGracePeriodSeconds }),
    deploymentController: { type: 'ECS' },
    ...(row.createdBy === null ? {} : { createdBy: row.createdBy }),
    enableECSManagedTags: false,
    propagateTags: 'NONE',
    enableExecuteCommand: false,
    ...(tags === undefined ? {} : { tags }),
  };
}

async function describeOne(ctx: ActionContext, clusterName: string, row: ServiceRow) {
  const deploymentRows = await listDeployments(ctx.db, [row.id]);
  const events = await listEvents(ctx.db, row.id);
  return describeService(ctx.scope, clusterName, row, deploymentRows, events, undefined);
}

/** The deployments as the scheduler sees them, with their task definitions. */
async function schedulerDeployments(
  ctx: ActionContext,
  service: ServiceRow,
  rows: readonly DeploymentRow[],
): Promise<ServiceDeployment[]> {
  const out: ServiceDeployment[] = [];
  for (const row of rows) {
    const definition = await resolveTaskDefinitionRow(ctx, row.family, row.revision);
    out.push(
      toServiceDeployment(
        row,
        deploymentTaskDefinition(
          arns.taskDefinition(ctx.scope, row.family, row.revision),
          definition,
          service.name,
        ),
      ),
    );
  }
  return out;
}

async function resolveTaskDefinitionRow(ctx: ActionContext, family: string, revision: number) {
  const row = await findTaskDefinition(ctx.db, { family, revision });
  if (row === undefined) throw new Error(`deployment names a missing revision ${family}:${revision}`);
  return row.spec;
}

/** Queued after the commit: the worker reads what this call wrote. */
async function evaluate(ctx: ActionContext, serviceId: string, trigger: 'created' | 'updated' | 'deleted') {
  await ctx.runtime.queues.evaluateService(serviceId, trigger);
}

function checkDaemon(
  strategy: SchedulingStrategy,
  input: { desiredCount?: number | undefined; placementStrategy?: unknown[] | undefined },
): void {
  if (strategy !== 'DAEMON') return;
  if (input.desiredCount !== undefined) throw new InvalidParameterError(DAEMON_DESIRED_COUNT);
  if (input.placementStrategy !== undefined && input.placementStrategy.length > 0)
    throw new InvalidParameterError(DAEMON_STRATEGY);
}

export const CreateService = defineAction(
  'Creates a service that keeps desiredCount tasks (REPLICA) or one task per instance (DAEMON) running.',
  z.object({
    cluster: clusterRef.optional(),
    serviceName,
    taskDefinition: taskDefinitionRef,
    desiredCount: z.number().int().min(0).max(5000).optional(),
    launchType,
    schedulingStrategy: z.enum(['REPLICA', 'DAEMON']).optional(),
    deploymentConfiguration: DeploymentConfiguration.optional(),
    placementConstraints: z.array(PlacementConstraint).max(10).optional(),
    placementStrategy: z.array(PlacementStrategy).max(5).optional(),
    healthCheckGracePeriodSeconds: z.number().int().min(0).max(2147483647).optional(),
    clientToken: z.string().min(1).max(36).optional(),
    tags: z.array(Tag).max(50).optional(),
  }),
  async (ctx, input) => {
    checkLaunchType(input.launchType);
    const strategy = input.schedulingStrategy ?? 'REPLICA';
    checkDaemon(strategy, input);
    if (strategy === 'REPLICA' && input.desiredCount === undefined) {
      throw new InvalidParameterError('desiredCount is required for the REPLICA scheduling strategy.');
    }
    const constraints = compileConstraints(input.placementConstraints ?? [], undefined);
    const placementStrategy = compileStrategy(input.placementStrategy ?? []);
    const tags = parseTags(input.tags ?? []);
    const cluster = await requireActiveCluster(ctx.db, ctx.scope, input.cluster);
    const definition = await resolveTaskDefinition(ctx, input.taskDefinition);
    const serviceArn = arns.service(ctx.scope, cluster.name, input.serviceName);
    const deploymentConfiguration: StoredDeploymentConfiguration = input.deploymentConfiguration ?? {};

    const created = await ctx.db.transaction(async (tx) => {
      // Share lock: DeleteCluster cannot slip in between the check and the insert.
      await requireActiveCluster(tx, ctx.scope, cluster.name, { lock: 'share' });
      const existing = await findLiveService(tx, cluster.id, input.serviceName, { lock: true });
      if (existing !== undefined) {
        if (existing.status === 'DRAINING') {
          throw new InvalidParameterError('Unable to Start a service that is still Draining.');
        }
        if (input.clientToken !== undefined && existing.clientToken === input.clientToken) {
          return { row: existing, fresh: false };
        }
        throw new InvalidParameterError('Creation of service was not idempotent.');
      }
      const [row] = await tx
        .insert(services)
        .values({
          clusterId: cluster.id,
          name: input.serviceName,
          status: 'ACTIVE',
          family: definition.family,
          revision: definition.revision,
          desiredCount: strategy === 'DAEMON' ? 0 : (input.desiredCount ?? 0),
          launchType: 'EC2',
          schedulingStrategy: strategy,
          deploymentConfiguration,
          placementConstraints: constraints,
          placementStrategy,
          healthCheckGracePeriodSeconds: input.healthCheckGracePeriodSeconds ?? null,
          clientToken: input.clientToken ?? null,
          createdAt: ctx.now,
          createdBy: ctx.caller.accessKeyId,
          updatedAt: ctx.now,
        })
        .returning();
      if (!row) throw new Error('insert returned no row');
      const deployment = createDeployment({
        id: newDeploymentId(),
        taskDefinition: deploymentTaskDefinition(
          arns.taskDefinition(ctx.scope, definition.family, definition.revision),
          definition.spec,
          row.name,
        ),
        desiredCount: row.desiredCount,
        now: ctx.now.getTime(),
      });
      await writeDeployments(tx, row.id, [deployment], []);
      // A name used again after its service went INACTIVE has the same ARN: start with clean tags.
      await removeTags(tx, serviceArn);
      await putTags(tx, serviceArn, tags);
      return { row, fresh: true };
    });
    if (created.fresh) {
      ctx.log.child({ serviceId: created.row.id }).info({ service: created.row.name }, 'service created');
      await evaluate(ctx, created.row.id, 'created');
    }
    const service = await describeOne(ctx, cluster.name, created.row);
    return { service: { ...service, tags: await listTags(ctx.db, serviceArn) } };
  },
);

/** Resolves `service` in the cluster to its live row, or the ECS error for a missing / deleted one. */
async function requireService(ctx: ActionContext, cluster: ClusterRow, ref: string): Promise<ServiceRow> {
  const name = serviceNameFromRef(ctx.scope, cluster.name, ref);
  if (name === undefined) throw new ServiceNotFoundError();
  const row = (await findServicesByName(ctx.db, cluster.id, [name])).get(name);
  if (row === undefined) throw new ServiceNotFoundError();
  if (row.status === 'INACTIVE') throw new ServiceNotActiveError();
  return row;
}

export const UpdateService = defineAction(
  'Changes a service: desired count, task definition or forceNewDeployment (a new deployment), configuration.',
  z.object({
    cluster: clusterRef.optional(),
    service: serviceRef,
    desiredCount: z.number().int().min(0).max(5000).optional(),
    taskDefinition: taskDefinitionRef.optional(),
    deploymentConfiguration: DeploymentConfiguration.optional(),
    placementConstraints: z.array(PlacementConstraint).max(10).optional(),
    placementStrategy: z.array(PlacementStrategy).max(5).optional(),
    forceNewDeployment: z.boolean().optional(),
    healthCheckGracePeriodSeconds: z.number().int().min(0).max(2147483647).optional(),
  }),
  async (ctx, input) => {
    const constraints =
      input.placementConstraints === undefined
        ? undefined
        : compileConstraints(input.placementConstraints, undefined);
    const placementStrategy =
      input.placementStrategy === undefined ? undefined : compileStrategy(input.placementStrategy);
    const cluster = await requireActiveCluster(ctx.db, ctx.scope, input.cluster);
    const found = await requireService(ctx, cluster, input.service);
    checkDaemon(found.schedulingStrategy, input);
    const definition =
      input.taskDefinition === undefined ? undefined : await resolveTaskDefinition(ctx, input.taskDefinition);

    const result = await ctx.db.transaction(async (tx) => {
      // The row lock serialises this call with the services worker, which holds it while it evaluates.
      const [row] = await tx.select().from(services).where(eq(services.id, found.id)).for('update');
      if (row === undefined || row.status === 'INACTIVE') throw new ServiceNotFoundError();
      if (row.status !== 'ACTIVE') throw new ServiceNotActiveError();
      const family = definition?.family ?? row.family;
      const revision = definition?.revision ?? row.revision;
      const changedRevision = family !== row.family || revision !== row.revision;
      const desiredCount = input.desiredCount ?? row.desiredCount;
      const deploymentConfiguration: StoredDeploymentConfiguration = {
        ...row.deploymentConfiguration,
        ...(input.deploymentConfiguration ?? {}),
      };
      const [updated] = await tx
        .update(services)
        .set({
          family,
          revision,
          desiredCount,
          deploymentConfiguration,
          ...(constraints === undefined ? {} : { placementConstraints: constraints }),
          ...(placementStrategy === undefined ? {} : { placementStrategy }),
          ...(input.healthCheckGracePeriodSeconds === undefined
            ? {}
            : { healthCheckGracePeriodSeconds: input.healthCheckGracePeriodSeconds }),
          updatedAt: ctx.now,
        })
        .where(eq(services.id, row.id))
        .returning();
      if (!updated) throw new Error('update returned no row');
      let deploymentId: string | undefined;
      if (changedRevision || input.forceNewDeployment === true) {
        const current = await schedulerDeployments(ctx, row, await listDeployments(tx, [row.id]));
        const spec = definition?.spec ?? (await resolveTaskDefinitionRow(ctx, family, revision));
        const next = createDeployment({
          id: newDeploymentId(),
          taskDefinition: deploymentTaskDefinition(
            arns.taskDefinition(ctx.scope, family, revision),
            spec,
            row.name,
          ),
          desiredCount,
          now: ctx.now.getTime(),
        });
        await writeDeployments(tx, row.id, startDeployment(current, next), []);
        deploymentId = next.id;
      }
      return { row: updated, deploymentId };
    });
    const log = ctx.log.child({ serviceId: result.row.id });
    if (result.deploymentId !== undefined) {
      log.info({ deploymentId: result.deploymentId }, 'service deployment started');
    }
    await evaluate(ctx, result.row.id, 'updated');
    return { service: await describeOne(ctx, cluster.name, result.row) };
  },
);

export const DeleteService = defineAction(
  'Deletes a service: DRAINING while its tasks stop, INACTIVE once none is left; force when scaled above 0.',
  z.object({
    cluster: clusterRef.optional(),
    service: serviceRef,
    force: z.boolean().optional(),
  }),
  async (ctx, input) => {
    const cluster = await requireActiveCluster(ctx.db, ctx.scope, input.cluster);
    const found = await requireService(ctx, cluster, input.service);
    const result = await ctx.db.transaction(async (tx) => {
      const [row] = await tx.select().from(services).where(eq(services.id, found.id)).for('update');
      if (row === undefined || row.status === 'INACTIVE') throw new ServiceNotActiveError();
      if (
        row.status === 'ACTIVE' &&
        row.schedulingStrategy === 'REPLICA' &&
        row.desiredCount > 0 &&
        input.force !== true
      ) {
        throw new InvalidParameterError('The service cannot be stopped while it is scaled above 0.');
      }
      const [updated] = await tx
        .update(services)
        .set({ status: 'DRAINING', desiredCount: 0, updatedAt: ctx.now })
        .where(eq(services.id, row.id))
        .returning();
      // Its tasks stop now; the worker turns the service INACTIVE once their agents report them stopped.
      const live = await tx
        .select({ id: tasks.id })
        .from(tasks)
        .where(
          and(
            eq(tasks.serviceId, row.id),
            eq(tasks.desiredStatus, 'RUNNING'),
            ne(tasks.lastStatus, 'STOPPED'),
          ),
        )
        .orderBy(asc(tasks.id));
      const [primary] = (await listDeployments(tx, [row.id])).filter((d) => d.status === 'PRIMARY');
      const reason = primary === undefined ? 'Service deleted' : scalingActivityReason(primary.id);
      const stops = await requestTaskStops(
        tx,
        cluster.id,
        live.map((t) => ({ taskId: t.id, stopCode: 'ServiceSchedulerInitiated' as const, reason })),
        ctx.now,
      );
      return { row: updated ?? row, stops, was: row.status };
    });
    const log = ctx.log.child({ serviceId: result.row.id });
    if (result.was !== 'DRAINING') log.info(`service ${result.was}->DRAINING`);
    for (const taskId of result.stops.stopped) log.info({ taskId }, 'task desiredStatus RUNNING->STOPPED');
    for (const id of result.stops.instanceIds) await ctx.runtime.notifier.publish(channels.instance(id));
    await evaluate(ctx, result.row.id, 'deleted');
    return { service: await describeOne(ctx, cluster.name, result.row) };
  },
);

export const DescribeServices = defineAction(
  'Describes up to 10 services; unknown ones come back in failures[] as MISSING.',
  z.object({
    cluster: clusterRef.optional(),
    services: z.array(serviceRef).min(1).max(10),
    include: z.array(z.literal('TAGS')).optional(),
  }),
  async (ctx, input) => {
    const clusterName = requireClusterName(ctx.scope, input.cluster);
    const wanted = input.services.map((ref) => ({
      ref,
      name: serviceNameFromRef(ctx.scope, clusterName, ref),
    }));
    const { cluster, services: byName } = await findClusterServices(
      ctx.db,
      clusterName,
      wanted.flatMap((w) => (w.name === undefined ? [] : [w.name])),
    );
    requireActive(cluster);
    const found: NonNullable<ReturnType<typeof byName.get>>[] = [];
    const failures: { arn: string; reason: string }[] = [];
    for (const w of wanted) {
      const service = w.name === undefined ? undefined : byName.get(w.name);
      if (service !== undefined) found.push(service);
      else
        failures.push({
          arn: w.ref.startsWith('arn:') ? w.ref : arns.service(ctx.scope, clusterName, w.ref),
          reason: 'MISSING',
        });
    }
    const arnOf = (s: (typeof found)[number]) => arns.service(ctx.scope, clusterName, s.row.name);
    const tags = input.include?.includes('TAGS') ? await listTagsOfMany(ctx.db, found.map(arnOf)) : undefined;
    return {
      services: found.map((s) =>
        describeService(
          ctx.scope,
          clusterName,
          s.row,
          s.deployments,
          s.events,
          tags === undefined ? undefined : (tags.get(arnOf(s)) ?? []),
        ),
      ),
      failures,
    };
  },
);

export const ListServices = defineAction(
  'Lists the ARNs of a cluster’s ACTIVE services, by launch type and scheduling strategy.',
  z.object({
    cluster: clusterRef.optional(),
    launchType,
    schedulingStrategy: z.enum(['REPLICA', 'DAEMON']).optional(),
    maxResults: z.number().int().min(1).max(100).optional(),
    nextToken: z.string().max(2048).optional(),
  }),
  async (ctx, input) => {
    const cluster = await requireActiveCluster(ctx.db, ctx.scope, input.cluster);
    // ECS's default page for ListServices is 10.
    const limit = input.maxResults ?? 10;
    const after = decodeToken(input.nextToken, ['string']);
    const rows =
      input.launchType !== undefined && input.launchType !== 'EC2'
        ? []
        : await ctx.db
            .select({ name: services.name })
            .from(services)
            .where(
              and(
                eq(services.clusterId, cluster.id),
                eq(services.status, 'ACTIVE'),
                input.schedulingStrategy === undefined
                  ? undefined
                  : eq(services.schedulingStrategy, input.schedulingStrategy),
                after ? gt(services.name, String(after[0])) : undefined,
              ),
            )
            .orderBy(asc(services.name))
            .limit(limit + 1);
    const { items, nextToken } = page(rows, limit, (r) => [r.name]);
    return {
      serviceArns: items.map((r) => arns.service(ctx.scope, cluster.name, r.name)),
      ...(nextToken ? { nextToken } : {}),
    };
  },
);
