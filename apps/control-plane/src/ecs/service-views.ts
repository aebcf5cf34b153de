import { type ArnScope, arns, type TagPair } from '@bosun/model';
import { resolveDeploymentConfiguration } from '@bosun/scheduler';
import {
  type DeploymentView,
  listDeployments,
  listEvents,
  type ServiceEventView,
  type ServiceRow,
} from '../repositories/services.ts';
import type { ActionContext } from './action.ts';
import { epochSeconds } from './shapes.ts';

/** A service as ECS's DescribeServices shows it. */
export function describeService(
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

/** One service as DescribeServices shows it, its deployments and events read fresh (no tags). */
export async function describeOne(ctx: ActionContext, clusterName: string, row: ServiceRow) {
  const deploymentRows = await listDeployments(ctx.db, [row.id]);
  const events = await listEvents(ctx.db, row.id);
  return describeService(ctx.scope, clusterName, row, deploymentRows, events, undefined);
}
