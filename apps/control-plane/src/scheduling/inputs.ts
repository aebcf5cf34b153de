/**
 * Stored rows → the scheduler's inputs, and the rules that live in that mapping: when an agent counts as
 * connected, which instances are lost, how stored constraints compile, how a service's constraints merge
 * with its revision's, what a task of a revision reserves, when a DRAINING service is done. Pure: the
 * workers load rows, map them here, call packages/scheduler, and apply what it decides.
 */
import {
  type ArnScope,
  arns,
  parseTaskSize,
  type StoredPlacementConstraint,
  type TaskDefinitionSpec,
} from '@bosun/model';
import {
  type CandidateInstance,
  type DeploymentTaskDefinition,
  type HostLossVerdict,
  hostLoss,
  type PlacementConstraint,
  parseClusterQuery,
  type ServiceDeployment,
  type ServiceTask,
  scalingActivityReason,
  type TaskRequirements,
  taskRequirements,
} from '@bosun/scheduler';
import type { ContainerOverride } from '../db/schema/index.ts';
import type { ContainerInstanceRow } from '../repositories/container-instances.ts';
import type { DeploymentRow } from '../repositories/services.ts';
import type { TaskRow } from '../repositories/tasks.ts';

// ---------------------------------------------------------------------------------------------------
// Instances

/** An agent is connected while its last contact is younger than the agent timeout. */
export function agentConnected(lastContactAt: Date | null, now: Date, agentTimeoutMs: number): boolean {
  return lastContactAt !== null && now.getTime() - lastContactAt.getTime() < agentTimeoutMs;
}

/** What the tasks not yet STOPPED hold on one instance. */
export interface InstanceUsage {
  cpu: number;
  memory: number;
  ports: string[];
  running: number;
  /** Tasks not yet STOPPED and still wanted RUNNING: what losing the host would replace. */
  wanted: number;
  /** Tasks not yet STOPPED per group. */
  groups: Map<string, number>;
}

/** One container instance as placement sees it, plus the task groups counted on it. */
export interface InstanceSnapshot {
  row: ContainerInstanceRow;
  candidate: CandidateInstance;
  /** Tasks not yet STOPPED on the instance, per group. */
  groupCounts: ReadonlyMap<string, number>;
  /** Tasks wanted RUNNING on it (InstanceUsage.wanted). */
  wantedTasks: number;
}

export interface SnapshotContext {
  scope: ArnScope;
  clusterName: string;
  agentTimeoutMs: number;
}

/** Registered resources minus the tasks not yet STOPPED, and the host's reserved ports. */
export function instanceSnapshot(
  row: ContainerInstanceRow,
  used: InstanceUsage | undefined,
  o: SnapshotContext & {
    /** Postgres' now(): contacts are written with it (db/now.ts). */
    now: Date;
  },
): InstanceSnapshot {
  const counts = used?.groups ?? new Map<string, number>();
  const attributes: Record<string, string> = {};
  for (const a of row.attributes) attributes[a.name] = a.value ?? '';
  const candidate: CandidateInstance = {
    instanceId: row.id,
    arn: arns.containerInstance(o.scope, o.clusterName, row.id),
    status: row.status,
    remainingCpu: row.registeredCpu - (used?.cpu ?? 0),
    remainingMemory: row.registeredMemory - (used?.memory ?? 0),
    usedPorts: new Set([...row.reservedPorts, ...(used?.ports ?? [])]),
    agentConnected: agentConnected(row.lastHeartbeatAt, o.now, o.agentTimeoutMs),
    agentVersion: row.versionInfo?.agentVersion ?? '',
    registeredAt: row.registeredAt.getTime(),
    runningTasksCount: used?.running ?? 0,
    attributes,
    taskGroups: new Set(counts.keys()),
  };
  return { row, candidate, groupCounts: counts, wantedTasks: used?.wanted ?? 0 };
}

/**
 * Which silent hosts of a cluster are lost (the rule is the scheduler's hostLoss): bosun replaces the
 * tasks of a host whose agent has been silent for the agent timeout, without waiting longer (ECS never
 * does; Nomad and Swarm do after about as long) — unless this process was not listening that long
 * (`recovering`), or most of the cluster fell silent at once.
 */
export const hostLossOf = (snapshot: readonly InstanceSnapshot[], recovering: boolean): HostLossVerdict =>
  hostLoss(
    snapshot.map((s) => ({
      instanceId: s.row.id,
      connected: s.candidate.agentConnected,
      wantedTasks: s.wantedTasks,
    })),
    { recovering },
  );

/**
 * Whether this process has been able to hear from agents for a full agent timeout plus a heartbeat
 * interval since it was last blind (its start, an outage of Postgres or Redis): before that, a
 * silent host may only be one whose contacts this process could not have seen.
 */
export function recovering(
  blindUntil: number,
  monotonicNow: number,
  settings: { agentTimeoutMs: number; heartbeatIntervalMs: number },
): boolean {
  return monotonicNow - blindUntil < settings.agentTimeoutMs + settings.heartbeatIntervalMs;
}

// ---------------------------------------------------------------------------------------------------
// Constraints

/**
 * Stored constraints → the scheduler's. Every memberOf text was parsed when it was stored (RunTask,
 * CreateService, RegisterTaskDefinition), so one that no longer parses is a bug, not bad input: it throws.
 */
export function compileStoredConstraints(list: readonly StoredPlacementConstraint[]): PlacementConstraint[] {
  return list.map((c) => {
    if (c.type === 'distinctInstance') return c;
    const parsed = parseClusterQuery(c.expression);
    if (!parsed.ok) throw new Error(`stored memberOf expression does not parse: ${parsed.error.message}`);
    return { type: 'memberOf', expression: parsed.value };
  });
}

/** The service's constraints, then its revision's own memberOf ones, as RunTask merges them. */
export function serviceConstraints(
  own: readonly StoredPlacementConstraint[],
  revision: TaskDefinitionSpec | undefined,
): StoredPlacementConstraint[] {
  return [
    ...own,
    ...(revision?.placementConstraints ?? []).flatMap((c) =>
      c.type === 'memberOf' && c.expression !== undefined
        ? [{ type: 'memberOf' as const, expression: c.expression }]
        : [],
    ),
  ];
}

// ---------------------------------------------------------------------------------------------------
// Task definitions

/**
 * The task definition as this task runs it: RunTask's containerOverrides applied. `command` replaces,
 * `environment` adds or overrides variables by name, sizes replace — as ECS applies them.
 */
export function applyOverrides(
  spec: TaskDefinitionSpec,
  overrides: readonly ContainerOverride[],
): TaskDefinitionSpec {
  if (overrides.length === 0) return spec;
  const byName = new Map(overrides.map((o) => [o.name, o]));
  return {
    ...spec,
    containerDefinitions: spec.containerDefinitions.map((c) => {
      const o = byName.get(c.name);
      if (o === undefined) return c;
      const environment = [...c.environment];
      for (const v of o.environment ?? []) {
        const i = environment.findIndex((e) => e.name === v.name);
        if (i === -1) environment.push(v);
        else environment[i] = v;
      }
      return {
        ...c,
        ...(o.command !== undefined ? { command: o.command } : {}),
        ...(o.cpu !== undefined ? { cpu: o.cpu } : {}),
        ...(o.memory !== undefined ? { memory: o.memory } : {}),
        ...(o.memoryReservation !== undefined ? { memoryReservation: o.memoryReservation } : {}),
        environment,
      };
    }),
  };
}

/** What one task of `spec` (overrides applied) reserves on an instance. */
export function requirementsOf(spec: TaskDefinitionSpec, group: string): TaskRequirements {
  const cpu = spec.cpu === undefined ? undefined : parseTaskSize(spec.cpu, 'cpu');
  const memory = spec.memory === undefined ? undefined : parseTaskSize(spec.memory, 'memory');
  return taskRequirements(
    {
      ...(cpu === undefined ? {} : { cpu }),
      ...(memory === undefined ? {} : { memory }),
      networkMode: spec.networkMode,
      containerDefinitions: spec.containerDefinitions,
    },
    group,
  );
}

// ---------------------------------------------------------------------------------------------------
// Services

export function deploymentTaskDefinition(
  arn: string,
  spec: TaskDefinitionSpec,
  serviceName: string,
): DeploymentTaskDefinition {
  return {
    arn,
    requirements: requirementsOf(spec, `service:${serviceName}`),
    hasHealthCheck: spec.containerDefinitions.some((c) => c.essential && c.healthCheck !== undefined),
  };
}

export function toServiceDeployment(
  row: DeploymentRow,
  taskDefinition: DeploymentTaskDefinition,
): ServiceDeployment {
  return {
    id: row.id,
    status: row.status,
    taskDefinition,
    createdAt: row.createdAt.getTime(),
    updatedAt: row.updatedAt.getTime(),
    desiredCount: row.desiredCount,
    pendingCount: row.pendingCount,
    runningCount: row.runningCount,
    failedTasks: row.failedTasks,
    rolloutState: row.rolloutState,
    rolloutStateReason: row.rolloutStateReason,
    launch: row.launch,
  };
}

/** A service's task rows as the scheduler sees them; a task never placed is not one of them. */
export function serviceTasks(rows: readonly TaskRow[]): ServiceTask[] {
  return rows.flatMap((t) =>
    t.containerInstanceId === null || t.deploymentId === null
      ? []
      : [
          {
            id: t.id,
            deploymentId: t.deploymentId,
            instanceId: t.containerInstanceId,
            lastStatus: t.lastStatus,
            desiredStatus: t.desiredStatus,
            healthStatus: t.healthStatus,
            createdAt: t.createdAt.getTime(),
            startedAt: t.startedAt?.getTime() ?? null,
            stoppedAt: t.stoppedAt?.getTime() ?? null,
            stopCode: t.stopCode,
          },
        ],
  );
}

/** Whether a decided deployment differs from its row: most evaluations (the sweep's) change nothing. */
export function deploymentDiffers(row: DeploymentRow | undefined, d: ServiceDeployment): boolean {
  if (row === undefined) return true;
  const a = row.launch;
  const b = d.launch;
  return (
    row.status !== d.status ||
    row.desiredCount !== d.desiredCount ||
    row.pendingCount !== d.pendingCount ||
    row.runningCount !== d.runningCount ||
    row.failedTasks !== d.failedTasks ||
    row.rolloutState !== d.rolloutState ||
    row.rolloutStateReason !== d.rolloutStateReason ||
    row.updatedAt.getTime() !== d.updatedAt ||
    a.seenTaskIds.join() !== b.seenTaskIds.join() ||
    a.lastFailureAt !== b.lastFailureAt ||
    a.consecutiveStartFailures !== b.consecutiveStartFailures ||
    a.lastStartFailureAt !== b.lastStartFailureAt ||
    a.throttledUntil !== b.throttledUntil
  );
}

/** Why a deleted service's tasks stop: ECS names the scaling activity of the PRIMARY deployment. */
export function serviceDeletedReason(list: readonly Pick<DeploymentRow, 'id' | 'status'>[]): string {
  const primary = list.find((d) => d.status === 'PRIMARY');
  return primary === undefined ? 'Service deleted' : scalingActivityReason(primary.id);
}

/** A task of a DRAINING service, with the contact of the host it is on. */
export interface DrainingTask {
  lastStatus: TaskRow['lastStatus'];
  instanceStatus: ContainerInstanceRow['status'] | null;
  instanceContactAt: Date | null;
}

/**
 * Where a deleted service stands. It becomes INACTIVE once none of its tasks is still to be reported
 * STOPPED by a live agent: a task on a host that is gone or silent would never be, so it does not
 * hold the service up.
 */
export function drainProgress(
  list: readonly DrainingTask[],
  now: Date,
  agentTimeoutMs: number,
): { stopping: number; running: number; pending: number; inactive: boolean } {
  let stopping = 0;
  let running = 0;
  let pending = 0;
  for (const t of list) {
    if (t.lastStatus === 'RUNNING') running++;
    if (t.lastStatus === 'PROVISIONING' || t.lastStatus === 'PENDING' || t.lastStatus === 'ACTIVATING')
      pending++;
    if (
      t.lastStatus !== 'STOPPED' &&
      t.instanceStatus !== null &&
      t.instanceStatus !== 'INACTIVE' &&
      agentConnected(t.instanceContactAt, now, agentTimeoutMs)
    ) {
      stopping++;
    }
  }
  const inactive = stopping === 0;
  return { stopping, running: inactive ? 0 : running, pending: inactive ? 0 : pending, inactive };
}
