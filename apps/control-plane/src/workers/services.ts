import { randomBytes } from 'node:crypto';
import { arns, parseTaskDefinitionRef } from '@bosun/model';
import {
  maxNewTasks,
  type PlacementConstraint,
  type PlacementStrategy,
  parseClusterQuery,
  type ReconcileServiceInput,
  reconcileService,
  type ServiceDecision,
  type ServiceDeployment,
  type ServiceTask,
  scalingActivityReason,
} from '@bosun/scheduler';
import { Worker } from 'bullmq';
import { and, asc, eq, ne, sql } from 'drizzle-orm';
import type { Redis } from 'ioredis';
import { channels } from '../agent-protocol/wake-ups.ts';
import type { Tx } from '../db/client.ts';
import { clusters, deployments, services, tasks } from '../db/schema/index.ts';
import {
  appendEvents,
  type DeploymentRow,
  deploymentTaskDefinition,
  listDeployments,
  listEvents,
  type ServiceRow,
  toServiceDeployment,
  writeDeployments,
} from '../repositories/services.ts';
import { loadSpecs } from '../repositories/task-definitions.ts';
import { bumpDesiredVersions, requestTaskStops } from '../repositories/tasks.ts';
import { insertPlacedTasks, lockAndRecheck, newTaskId, type PlannedTask } from '../scheduling/apply-plan.ts';
import { loadSnapshot } from '../scheduling/snapshot.ts';
import type { PlacementDeps } from './placement.ts';
import { type Payload, QUEUE_CATALOG, type Queues, type TypedJob } from './queues.ts';

export interface ServiceWorkerDeps extends PlacementDeps {
  queues: Queues;
}

export type ServiceTrigger = Payload<'services'>['trigger'];

/** A plan that no longer fits under the instance locks: roll back and decide again on fresh rows. */
class PlacementConflict extends Error {}

/** Re-decisions after a capacity conflict; past this many the job fails and BullMQ retries it later. */
const MAX_REDECISIONS = 10;

export type EvaluationOutcome =
  | { kind: 'skipped' }
  | { kind: 'inactive' }
  | { kind: 'draining'; stopping: number }
  | { kind: 'decided'; decision: ServiceDecision; conflicts: number };

/**
 * One evaluation of one service: load the rows, `reconcileService`, apply the decision — all in one
 * transaction that holds the service row `for update`. That lock is what makes several workers (in
 * any number of processes) safe: two evaluations of a service never overlap, UpdateService and
 * DeleteService wait for the one in progress, and every evaluation reads the tasks the previous one
 * committed, so a job run twice decides again on fresh state instead of placing twice.
 *
 * Capacity is shared with RunTask and other services, so placements go through the same locked commit
 * as RunTask's (placement/commit.ts): instance rows `for update` in id order, capacity re-checked on
 * the fresh rows; on a conflict the transaction rolls back and the service is decided again.
 *
 * Lock order, the same everywhere a transaction takes several: service row → cluster (share) → task
 * rows (id order) → instance rows (id order).
 */
export async function evaluateService(
  deps: ServiceWorkerDeps,
  serviceId: string,
  trigger: ServiceTrigger,
): Promise<EvaluationOutcome> {
  const log = deps.log.child({ serviceId });
  for (let attempt = 0; attempt <= MAX_REDECISIONS; attempt++) {
    try {
      const applied = await deps.db.transaction((tx) => decideAndApply(deps, tx, serviceId));
      if (applied.kind === 'skipped') return applied;
      // After the commit, so woken agents read the new rows.
      await Promise.all(applied.wake.map((id) => deps.notifier.publish(channels.instance(id))));
      if (applied.kind === 'draining') {
        if (applied.inactive) log.info('service DRAINING->INACTIVE');
        return applied.inactive ? { kind: 'inactive' } : { kind: 'draining', stopping: applied.stopping };
      }
      const { decision } = applied;
      logDecision(log, decision, { trigger, conflicts: attempt, seed: applied.seed });
      if (decision.nextEvaluationAt !== null) {
        await deps.queues.wakeServiceAt(serviceId, decision.nextEvaluationAt - deps.clock().getTime());
      }
      return { kind: 'decided', decision, conflicts: attempt };
    } catch (err) {
      if (!(err instanceof PlacementConflict)) throw err;
      log.debug({ why: err.message, attempt }, 'service placement conflict under lock; deciding again');
    }
  }
  throw new Error(`service ${serviceId}: placements still conflicting after ${MAX_REDECISIONS} decisions`);
}

/**
 * The one place a service's decisions are logged: the summary (with the seed that replays it), each
 * event, and each task the scheduler stops or starts.
 */
function logDecision(
  log: PlacementDeps['log'],
  decision: ServiceDecision,
  context: { trigger: ServiceTrigger; conflicts: number; seed: number },
): void {
  const moved = decision.place.length > 0 || decision.stop.length > 0 || decision.events.length > 0;
  const summary = {
    ...context,
    placed: decision.place.length,
    stopped: decision.stop.length,
    running: decision.runningCount,
    pending: decision.pendingCount,
    desired: decision.desiredCount,
    steady: decision.steady,
  };
  if (moved) log.info(summary, 'service evaluated');
  else log.debug(summary, 'service evaluated');
  for (const e of [...decision.events].reverse()) log.info({ event: e.message }, 'service event');
  for (const t of decision.stop)
    log.info({ taskId: t.taskId, cause: t.cause }, 'task desiredStatus RUNNING->STOPPED');
  for (const t of decision.place)
    log.debug({ taskId: t.taskId, instanceId: t.instanceId, deploymentId: t.deploymentId }, 'task placed');
  if (decision.placementFailure)
    log.info({ why: decision.placementFailure.explanation }, 'service placement failed');
}

type Applied =
  | { kind: 'skipped' }
  | { kind: 'draining'; wake: string[]; inactive: boolean; stopping: number }
  | { kind: 'decided'; wake: string[]; decision: ServiceDecision; seed: number };

async function decideAndApply(deps: ServiceWorkerDeps, tx: Tx, serviceId: string): Promise<Applied> {
  const [service] = await tx.select().from(services).where(eq(services.id, serviceId)).for('update');
  if (service === undefined || service.status === 'INACTIVE') return { kind: 'skipped' };
  const [cluster] = await tx.select().from(clusters).where(eq(clusters.id, service.clusterId)).for('share');
  if (cluster === undefined) return { kind: 'skipped' };
  const now = deps.clock();
  if (service.status === 'DRAINING') return drain(deps, tx, service, now);

  const snapshotOptions = {
    scope: deps.scope,
    clusterName: cluster.name,
    now,
    agentTimeoutMs: deps.settings.agentTimeoutMs,
  };
  const deploymentRows = await listDeployments(tx, [service.id]);
  const specs = await loadSpecs(tx, [
    ...deploymentRows.map((d) => ({ family: d.family, revision: d.revision })),
    { family: service.family, revision: service.revision },
  ]);
  const specOf = (family: string, revision: number) => {
    const spec = specs.get(`${family}:${revision}`);
    if (spec === undefined)
      throw new Error(`service ${service.id} names a missing revision ${family}:${revision}`);
    return spec;
  };
  const serviceDeployments: ServiceDeployment[] = deploymentRows.map((row) =>
    toServiceDeployment(
      row,
      deploymentTaskDefinition(
        arns.taskDefinition(deps.scope, row.family, row.revision),
        specOf(row.family, row.revision),
        service.name,
      ),
    ),
  );
  const taskRows = await tx
    .select()
    .from(tasks)
    .where(eq(tasks.serviceId, service.id))
    .orderBy(asc(tasks.id));
  const serviceTasks: ServiceTask[] = taskRows.flatMap((t) =>
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
  const snapshot = await loadSnapshot(tx, cluster.id, snapshotOptions);
  // bosun replaces the tasks of a host whose agent has been silent for the agent timeout, without
  // waiting longer (ECS never does; Nomad and Swarm do after about as long).
  const lostInstanceIds = snapshot.filter((s) => !s.candidate.agentConnected).map((s) => s.row.id);
  const [lastEvent] = await listEvents(tx, service.id, 1);
  const primary = deploymentRows.find((d) => d.status === 'PRIMARY');
  const primarySpec = primary === undefined ? undefined : specOf(primary.family, primary.revision);

  const base: Omit<ReconcileServiceInput, 'newTaskIds' | 'seed'> = {
    service: {
      name: service.name,
      arn: arns.service(deps.scope, cluster.name, service.name),
      desiredCount: service.desiredCount,
      schedulingStrategy: service.schedulingStrategy,
      deploymentConfiguration: service.deploymentConfiguration,
      // The service's constraints, then the PRIMARY revision's own memberOf ones, as RunTask merges them.
      placementConstraints: compileStored([
        ...service.placementConstraints,
        ...(primarySpec?.placementConstraints ?? []).flatMap((c) =>
          c.type === 'memberOf' && c.expression !== undefined
            ? [{ type: 'memberOf' as const, expression: c.expression }]
            : [],
        ),
      ]),
      placementStrategy: service.placementStrategy as PlacementStrategy[],
      ...(service.healthCheckGracePeriodSeconds === null
        ? {}
        : { healthCheckGracePeriodSeconds: service.healthCheckGracePeriodSeconds }),
    },
    deployments: serviceDeployments,
    tasks: serviceTasks,
    instances: snapshot.map((s) => s.candidate),
    lostInstanceIds,
    events:
      lastEvent === undefined
        ? []
        : [{ createdAt: lastEvent.createdAt.getTime(), message: lastEvent.message }],
    now: now.getTime(),
  };
  const newTaskIds = Array.from({ length: maxNewTasks(base) }, newTaskId);
  // Logged with the decision's inputs, a seed makes any decision replayable.
  const seed = randomBytes(4).readUInt32BE();
  const decision = reconcileService({ ...base, newTaskIds, seed });

  // Apply. 1. Stops: task rows locked (id order) before any instance row.
  const stops = await requestTaskStops(
    tx,
    cluster.id,
    decision.stop.map((s) => ({ taskId: s.taskId, stopCode: s.stopCode, reason: s.reason })),
    now,
    { bump: false },
  );
  // 2. Placements: lock every instance row this transaction touches (id order), re-check capacity.
  const byDeployment = new Map(serviceDeployments.map((d) => [d.id, d]));
  const planned: PlannedTask[] = decision.place.map((p) => {
    const d = byDeployment.get(p.deploymentId);
    if (d === undefined) throw new Error(`decision places a task of unknown deployment ${p.deploymentId}`);
    return { instanceId: p.instanceId, requirements: d.taskDefinition.requirements };
  });
  const distinct = base.service.placementConstraints.some((c) => c.type === 'distinctInstance');
  const why = await lockAndRecheck(tx, cluster.id, snapshotOptions, planned, distinct, stops.instanceIds);
  if (why !== undefined) throw new PlacementConflict(why);
  await insertPlacedTasks(
    tx,
    deps.scope,
    cluster.name,
    decision.place.map((p, i) => {
      const d = byDeployment.get(p.deploymentId) as ServiceDeployment;
      const row = deploymentRows.find((r) => r.id === p.deploymentId);
      const family = row?.family ?? service.family;
      const revision = row?.revision ?? service.revision;
      return {
        id: p.taskId,
        clusterId: cluster.id,
        instanceId: p.instanceId,
        serviceId: service.id,
        deploymentId: p.deploymentId,
        family,
        revision,
        containerOverrides: [],
        group: p.group,
        startedBy: p.startedBy,
        definition: specOf(family, revision),
        requirements: planned[i]?.requirements ?? d.taskDefinition.requirements,
        tags: [],
      };
    }),
    now,
  );
  const touched = [...new Set([...stops.instanceIds, ...decision.place.map((p) => p.instanceId)])].sort();
  await bumpDesiredVersions(tx, touched);
  // 3. Deployments, events, counts — only what changed: most evaluations (the sweep's) change nothing.
  const stored = new Map(deploymentRows.map((r) => [r.id, r]));
  await writeDeployments(
    tx,
    service.id,
    decision.deployments.filter((d) => deploymentDiffers(stored.get(d.id), d)),
    decision.removedDeploymentIds,
  );
  await appendEvents(tx, service.id, decision.events);
  const leading = decision.deployments.find((d) => d.status === 'PRIMARY');
  const leadingRef = leading === undefined ? undefined : parseTaskDefinitionRef(leading.taskDefinition.arn);
  const next = {
    desiredCount: decision.desiredCount,
    runningCount: decision.runningCount,
    pendingCount: decision.pendingCount,
    // After a rollback the service runs the revision of the deployment that leads again.
    family: leadingRef?.revision === undefined ? service.family : leadingRef.family,
    revision: leadingRef?.revision ?? service.revision,
  };
  if ((Object.keys(next) as (keyof typeof next)[]).some((k) => next[k] !== service[k])) {
    await tx.update(services).set(next).where(eq(services.id, service.id));
  }
  return { kind: 'decided', wake: touched, decision, seed };
}

function deploymentDiffers(row: DeploymentRow | undefined, d: ServiceDeployment): boolean {
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

/** Stored memberOf texts → parsed constraints; they were checked when stored, so failing here is a bug. */
function compileStored(list: readonly ServiceRow['placementConstraints'][number][]): PlacementConstraint[] {
  return list.map((c) => {
    if (c.type === 'distinctInstance') return c;
    const parsed = parseClusterQuery(c.expression);
    if (!parsed.ok) throw new Error(`stored memberOf expression does not parse: ${parsed.error.message}`);
    return { type: 'memberOf', expression: parsed.value };
  });
}

/**
 * A deleted service: every task still wanted is stopped (DeleteService did it; this finishes a retry),
 * and once none is left — STOPPED, or on a host that is gone or silent — the service is INACTIVE.
 */
async function drain(deps: ServiceWorkerDeps, tx: Tx, service: ServiceRow, now: Date): Promise<Applied> {
  const live = await tx
    .select({
      id: tasks.id,
      desiredStatus: tasks.desiredStatus,
      instanceId: tasks.containerInstanceId,
    })
    .from(tasks)
    .where(and(eq(tasks.serviceId, service.id), ne(tasks.lastStatus, 'STOPPED')))
    .orderBy(asc(tasks.id));
  const [primary] = (await listDeployments(tx, [service.id])).filter((d) => d.status === 'PRIMARY');
  const reason = primary === undefined ? 'Service deleted' : scalingActivityReason(primary.id);
  const stops = await requestTaskStops(
    tx,
    service.clusterId,
    live
      .filter((t) => t.desiredStatus === 'RUNNING')
      .map((t) => ({ taskId: t.id, stopCode: 'ServiceSchedulerInitiated' as const, reason })),
    now,
  );
  // Tasks on a host whose agent is silent would never be reported stopped: they do not hold it up.
  const reachable = await tx.execute<{ n: number }>(sql`
    select count(*)::int as n
      from tasks t join container_instances ci on ci.id = t.container_instance_id
     where t.service_id = ${service.id} and t.last_status <> 'STOPPED' and ci.status <> 'INACTIVE'
       and ci.last_heartbeat_at > ${new Date(now.getTime() - deps.settings.agentTimeoutMs).toISOString()}::timestamptz`);
  const stopping = reachable[0]?.n ?? 0;
  const running = await tx.execute<{ running: number; pending: number }>(sql`
    select count(*) filter (where last_status = 'RUNNING')::int as running,
           count(*) filter (where last_status in ('PROVISIONING', 'PENDING', 'ACTIVATING'))::int as pending
      from tasks where service_id = ${service.id}`);
  const inactive = stopping === 0;
  await tx
    .update(services)
    .set({
      runningCount: inactive ? 0 : (running[0]?.running ?? 0),
      pendingCount: inactive ? 0 : (running[0]?.pending ?? 0),
      ...(inactive ? { status: 'INACTIVE' as const, updatedAt: now } : {}),
    })
    .where(eq(services.id, service.id));
  if (inactive) await tx.delete(deployments).where(eq(deployments.serviceId, service.id));
  return { kind: 'draining', wake: stops.instanceIds, inactive, stopping };
}

/**
 * The sweep: every live service is queued, whatever happened. It heals a lost job or a flushed Redis,
 * and is how a silent agent is noticed (no event says "a heartbeat did not come"). Deduplication
 * makes it cheap: a service whose job is already waiting gets no second one.
 */
export async function sweepServices(deps: ServiceWorkerDeps): Promise<number> {
  const rows = await deps.db
    .select({ id: services.id })
    .from(services)
    .where(ne(services.status, 'INACTIVE'));
  for (const r of rows) await deps.queues.evaluateService(r.id, 'sweep');
  return rows.length;
}

/** This process's services workers: evaluations (concurrent across services) and the sweep. */
export async function startServiceWorkers(
  deps: ServiceWorkerDeps & { redis: Redis },
): Promise<{ close(): Promise<void> }> {
  const connection = deps.redis;
  const prefix = deps.queues.prefix;
  const evaluations = new Worker(
    QUEUE_CATALOG.services.name,
    async (job: TypedJob<'services'>) => {
      const { serviceId, trigger } = QUEUE_CATALOG.services.payload.parse(job.data);
      await evaluateService(deps, serviceId, trigger);
    },
    { connection, prefix, concurrency: QUEUE_CATALOG.services.concurrency },
  );
  const sweep = new Worker(
    QUEUE_CATALOG.serviceSweep.name,
    async () => {
      await sweepServices(deps);
    },
    { connection, prefix, concurrency: QUEUE_CATALOG.serviceSweep.concurrency },
  );
  for (const worker of [evaluations, sweep]) {
    worker.on('failed', (job, err) =>
      deps.log.error({ err, jobId: job?.id, queue: worker.name }, 'job failed'),
    );
    worker.on('error', (err) => deps.log.error({ err, queue: worker.name }, 'worker error'));
  }
  await Promise.all([evaluations.waitUntilReady(), sweep.waitUntilReady()]);
  await deps.queues.scheduleServiceSweep(deps.settings.serviceSweepMs);
  // The schedule lives in Redis, so a flushed or replaced Redis loses it: every process upserts it
  // again now and then (idempotent: one schedule id per install), and the sweep heals the rest.
  const reassert = setInterval(
    () => {
      deps.queues
        .scheduleServiceSweep(deps.settings.serviceSweepMs)
        .catch((err: unknown) => deps.log.warn({ err }, 'cannot re-assert the services sweep schedule'));
    },
    Math.max(deps.settings.serviceSweepMs * 2, 5_000),
  );
  return {
    async close() {
      clearInterval(reassert);
      await Promise.all([evaluations.close(), sweep.close()]);
    },
  };
}
