import {
  arns,
  DeploymentConfiguration,
  InvalidParameterError,
  MAX_TAGS_PER_RESOURCE,
  PlacementConstraint,
  PlacementStrategy,
  parseTags,
  ServiceNotActiveError,
  ServiceNotFoundError,
  Tag,
} from '@bosun/model';
import { createDeployment, type ServiceDeployment, startDeployment } from '@bosun/scheduler';
import { z } from 'zod';
import { channels } from '../agent-protocol/wake-ups.ts';
import {
  type ClusterRow,
  requireActive,
  requireActiveCluster,
  requireClusterName,
} from '../repositories/clusters.ts';
import { listActiveServiceNames } from '../repositories/service-reads.ts';
import { insertService, lockService, updateService } from '../repositories/service-writes.ts';
import {
  type DeploymentRow,
  findClusterServices,
  findLiveService,
  findServicesByName,
  listDeployments,
  newDeploymentId,
  type ServiceRow,
  serviceNameFromRef,
  writeDeployments,
} from '../repositories/services.ts';
import { listTags, listTagsOfMany, putTags, removeTags } from '../repositories/tags.ts';
import { findTaskDefinition } from '../repositories/task-definitions.ts';
import { listLiveServiceTaskIds } from '../repositories/task-reads.ts';
import { requestTaskStops } from '../repositories/tasks.ts';
import { deploymentTaskDefinition, serviceDeletedReason, toServiceDeployment } from '../scheduling/inputs.ts';
import { nudge } from '../workers/queues.ts';
import { type ActionContext, defineAction } from './action.ts';
import { decodeToken, page } from './pagination.ts';
import { compileConstraints, compileStrategy } from './placement-input.ts';
import {
  checkDaemon,
  checkLaunchType,
  schedulingStrategy,
  serviceName,
  serviceRef,
} from './service-rules.ts';
import { describeOne, describeService } from './service-views.ts';
import { clusterRef, launchType, taskDefinitionRef } from './shapes.ts';
import { resolveTaskDefinition } from './task-definitions.ts';

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
  await nudge(ctx.log, 'a service evaluation', () => ctx.runtime.queues.evaluateService(serviceId, trigger));
}

export const CreateService = defineAction(
  'Creates a service that keeps desiredCount tasks (REPLICA) or one task per instance (DAEMON) running.',
  z.object({
    cluster: clusterRef.optional(),
    serviceName,
    taskDefinition: taskDefinitionRef,
    desiredCount: z.number().int().min(0).max(5000).optional(),
    launchType,
    schedulingStrategy: schedulingStrategy.optional(),
    deploymentConfiguration: DeploymentConfiguration.optional(),
    placementConstraints: z.array(PlacementConstraint).max(10).optional(),
    placementStrategy: z.array(PlacementStrategy).max(5).optional(),
    healthCheckGracePeriodSeconds: z.number().int().min(0).max(2147483647).optional(),
    clientToken: z.string().min(1).max(36).optional(),
    tags: z.array(Tag).max(MAX_TAGS_PER_RESOURCE).optional(),
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
    const deploymentConfiguration: DeploymentConfiguration = input.deploymentConfiguration ?? {};

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
      const row = await insertService(tx, {
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
      });
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
      const row = await lockService(tx, found.id);
      if (row === undefined || row.status === 'INACTIVE') throw new ServiceNotFoundError();
      if (row.status !== 'ACTIVE') throw new ServiceNotActiveError();
      const family = definition?.family ?? row.family;
      const revision = definition?.revision ?? row.revision;
      const changedRevision = family !== row.family || revision !== row.revision;
      const desiredCount = input.desiredCount ?? row.desiredCount;
      const deploymentConfiguration: DeploymentConfiguration = {
        ...row.deploymentConfiguration,
        ...(input.deploymentConfiguration ?? {}),
      };
      const updated = await updateService(tx, row.id, {
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
      });
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
      const row = await lockService(tx, found.id);
      if (row === undefined || row.status === 'INACTIVE') throw new ServiceNotActiveError();
      if (
        row.status === 'ACTIVE' &&
        row.schedulingStrategy === 'REPLICA' &&
        row.desiredCount > 0 &&
        input.force !== true
      ) {
        throw new InvalidParameterError('The service cannot be stopped while it is scaled above 0.');
      }
      const updated = await updateService(tx, row.id, {
        status: 'DRAINING',
        desiredCount: 0,
        updatedAt: ctx.now,
      });
      // Its tasks stop now; the worker turns the service INACTIVE once their agents report them stopped.
      const live = await listLiveServiceTaskIds(tx, row.id);
      const reason = serviceDeletedReason(await listDeployments(tx, [row.id]));
      const stops = await requestTaskStops(
        tx,
        cluster.id,
        live.map((taskId) => ({ taskId, stopCode: 'ServiceSchedulerInitiated' as const, reason })),
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
    schedulingStrategy: schedulingStrategy.optional(),
    maxResults: z.number().int().min(1).max(100).optional(),
    nextToken: z.string().max(2048).optional(),
  }),
  async (ctx, input) => {
    const cluster = await requireActiveCluster(ctx.db, ctx.scope, input.cluster);
    // ECS's default page for ListServices is 10.
    const limit = input.maxResults ?? 10;
    const after = decodeToken(input.nextToken, ['string']);
    const names =
      input.launchType !== undefined && input.launchType !== 'EC2'
        ? []
        : await listActiveServiceNames(
            ctx.db,
            cluster.id,
            { schedulingStrategy: input.schedulingStrategy },
            { afterName: after ? String(after[0]) : undefined, limit: limit + 1 },
          );
    const { items, nextToken } = page(names, limit, (name) => [name]);
    return {
      serviceArns: items.map((name) => arns.service(ctx.scope, cluster.name, name)),
      ...(nextToken ? { nextToken } : {}),
    };
  },
);
