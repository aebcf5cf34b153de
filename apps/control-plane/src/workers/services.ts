import { randomBytes } from 'node:crypto';
import { arns, parseTaskDefinitionRef } from '@bosun/model';
import {
  maxNewTasks,
  type ReconcileServiceInput,
  reconcileService,
  type ServiceDecision,
  type ServiceDeployment,
} from '@bosun/scheduler';
import { channels } from '../agent-protocol/wake-ups.ts';
import type { Tx } from '../db/client.ts';
import { databaseNow } from '../db/now.ts';
import { findClusterById } from '../repositories/clusters.ts';
import { loadSnapshot } from '../repositories/instance-snapshot.ts';
import {
  deleteDeployments,
  listDrainingTasks,
  listLiveServiceIds,
  listServiceTasks,
} from '../repositories/service-evaluation.ts';
import { lockService, updateService } from '../repositories/service-writes.ts';
import {
  appendEvents,
  listDeployments,
  listEvents,
  type ServiceRow,
  writeDeployments,
} from '../repositories/services.ts';
import { loadSpecs, type RevisionRef, revisionKey } from '../repositories/task-definitions.ts';
import { newTaskId, requestTaskStops } from '../repositories/tasks.ts';
import { type Attempt, applyPlan, transactionOrConflict, untilCommitted } from '../scheduling/apply-plan.ts';
import {
  compileStoredConstraints,
  deploymentDiffers,
  deploymentTaskDefinition,
  drainProgress,
  hostLossOf,
  recovering,
  requirementsOf,
  serviceConstraints,
  serviceDeletedReason,
  serviceTasks,
  toServiceDeployment,
} from '../scheduling/inputs.ts';
import type { WorkerDeps } from './placement.ts';
import type { Payload, Queues } from './queues.ts';

export interface ServiceWorkerDeps extends WorkerDeps {
  queues: Queues;
}

export type ServiceTrigger = Payload<'services'>['trigger'];

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
 * as RunTask's (scheduling/apply-plan.ts): instance rows `for update` in id order, capacity re-checked on
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
  const { result: applied, conflicts } = await untilCommitted(
    { notifier: deps.notifier, log },
    `service ${serviceId}`,
    MAX_REDECISIONS,
    () => transactionOrConflict(deps.db, (tx) => decideAndApply(deps, tx, serviceId)),
  );
  if (applied.kind === 'skipped') return applied;
  if (applied.kind === 'draining') {
    if (applied.inactive) log.info('service DRAINING->INACTIVE');
    return applied.inactive ? { kind: 'inactive' } : { kind: 'draining', stopping: applied.stopping };
  }
  const { decision } = applied;
  logDecision(log, decision, { trigger, conflicts, seed: applied.seed });
  if (decision.nextEvaluationAt !== null) {
    // nextEvaluationAt is on Postgres' clock, as the decision's now was.
    await deps.queues.wakeServiceAt(serviceId, decision.nextEvaluationAt - applied.now);
  }
  return { kind: 'decided', decision, conflicts };
}

/**
 * The one place a service's decisions are logged: the summary (with the seed that replays it), each
 * event, and each task the scheduler stops or starts.
 */
function logDecision(
  log: WorkerDeps['log'],
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
  | { kind: 'draining'; inactive: boolean; stopping: number }
  | { kind: 'decided'; decision: ServiceDecision; seed: number; now: number };

const committed = (result: Applied, instanceIds: readonly string[] = []): Attempt<Applied> => ({
  kind: 'committed',
  result,
  wake: instanceIds.map((id) => channels.instance(id)),
});

/** Load → map → reconcileService → apply, inside the evaluation's transaction. */
async function decideAndApply(deps: ServiceWorkerDeps, tx: Tx, serviceId: string): Promise<Attempt<Applied>> {
  // Load. Lock order: service → cluster (share) → task rows → instance rows.
  const service = await lockService(tx, serviceId);
  if (service === undefined || service.status === 'INACTIVE') return committed({ kind: 'skipped' });
  const cluster = await findClusterById(tx, service.clusterId, { lock: 'share' });
  if (cluster === undefined) return committed({ kind: 'skipped' });
  // Postgres' clock, not this process's: every decision about time (silent hosts above all, but also
  // grace periods and throttles) then agrees across control planes whatever their clocks say.
  const now = await databaseNow(tx);
  if (service.status === 'DRAINING') return drain(deps, tx, service, now);

  const context = {
    scope: deps.scope,
    clusterName: cluster.name,
    now,
    agentTimeoutMs: deps.settings.agentTimeoutMs,
  };
  const deploymentRows = await listDeployments(tx, [service.id]);
  const specs = await loadSpecs(tx, [...deploymentRows, service]);
  const specOf = (ref: RevisionRef) => {
    const spec = specs.get(revisionKey(ref));
    if (spec === undefined)
      throw new Error(`service ${service.id} names a missing revision ${revisionKey(ref)}`);
    return spec;
  };
  const taskRows = await listServiceTasks(tx, service.id);
  const snapshot = await loadSnapshot(tx, cluster.id, context);
  const [lastEvent] = await listEvents(tx, service.id, 1);
  const loss = hostLossOf(
    snapshot,
    recovering(deps.health.snapshot().blindUntil, performance.now(), deps.settings),
  );

  // Map.
  const serviceDeployments: ServiceDeployment[] = deploymentRows.map((row) =>
    toServiceDeployment(
      row,
      deploymentTaskDefinition(
        arns.taskDefinition(deps.scope, row.family, row.revision),
        specOf(row),
        service.name,
      ),
    ),
  );
  const primary = deploymentRows.find((d) => d.status === 'PRIMARY');
  const base: Omit<ReconcileServiceInput, 'newTaskIds' | 'seed'> = {
    service: {
      name: service.name,
      arn: arns.service(deps.scope, cluster.name, service.name),
      desiredCount: service.desiredCount,
      schedulingStrategy: service.schedulingStrategy,
      deploymentConfiguration: service.deploymentConfiguration,
      placementConstraints: compileStoredConstraints(
        serviceConstraints(service.placementConstraints, primary === undefined ? undefined : specOf(primary)),
      ),
      placementStrategy: service.placementStrategy,
      ...(service.healthCheckGracePeriodSeconds === null
        ? {}
        : { healthCheckGracePeriodSeconds: service.healthCheckGracePeriodSeconds }),
    },
    deployments: serviceDeployments,
    tasks: serviceTasks(taskRows),
    instances: snapshot.map((s) => s.candidate),
    lostInstanceIds: loss.kind === 'lost' ? loss.instanceIds : loss.lost,
    ...(loss.kind === 'withheld' && loss.reason === 'partition'
      ? { suspectedPartition: { silentInstanceIds: loss.silentInstanceIds, of: loss.of } }
      : {}),
    events:
      lastEvent === undefined
        ? []
        : [{ createdAt: lastEvent.createdAt.getTime(), message: lastEvent.message }],
    now: now.getTime(),
  };

  // Decide. Logged with the decision's inputs, a seed makes any decision replayable.
  const seed = randomBytes(4).readUInt32BE();
  const newTaskIds = Array.from({ length: maxNewTasks(base) }, newTaskId);
  const decision = reconcileService({ ...base, newTaskIds, seed });
  if (loss.kind === 'withheld') {
    deps.log.warn(
      { serviceId: service.id, reason: loss.reason, silent: loss.silentInstanceIds, of: loss.of },
      loss.reason === 'partition'
        ? 'hosts silent together: suspecting a partition or an outage of bosun, replacing none of their tasks'
        : 'hosts silent while this process was not listening long enough: replacing none of their tasks yet',
    );
  }

  // Apply. 1. Stops: task rows locked (id order) before any instance row.
  const stops = await requestTaskStops(
    tx,
    cluster.id,
    decision.stop.map((s) => ({ taskId: s.taskId, stopCode: s.stopCode, reason: s.reason })),
    now,
    { bump: false },
  );
  // 2. Placements, through the one plan applier: every touched instance row locked, capacity re-checked.
  const byDeployment = new Map(deploymentRows.map((r) => [r.id, r]));
  const applied = await applyPlan(tx, {
    ...context,
    clusterId: cluster.id,
    distinctInstance: base.service.placementConstraints.some((c) => c.type === 'distinctInstance'),
    alsoTouched: stops.instanceIds,
    tasks: decision.place.map((p) => {
      const row = byDeployment.get(p.deploymentId);
      if (row === undefined)
        throw new Error(`decision places a task of unknown deployment ${p.deploymentId}`);
      const definition = specOf(row);
      return {
        id: p.taskId,
        clusterId: cluster.id,
        instanceId: p.instanceId,
        serviceId: service.id,
        deploymentId: p.deploymentId,
        family: row.family,
        revision: row.revision,
        containerOverrides: [],
        group: p.group,
        startedBy: p.startedBy,
        definition,
        requirements: requirementsOf(definition, `service:${service.name}`),
        tags: [],
      };
    }),
  });
  if ('kind' in applied) return applied;
  // 3. Deployments, events, counts — only what changed: most evaluations (the sweep's) change nothing.
  await writeDeployments(
    tx,
    service.id,
    decision.deployments.filter((d) => deploymentDiffers(byDeployment.get(d.id), d)),
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
    await updateService(tx, service.id, next);
  }
  return committed({ kind: 'decided', decision, seed, now: now.getTime() }, applied.instanceIds);
}

/**
 * A deleted service: every task still wanted is stopped (DeleteService did it; this finishes a retry),
 * and once none is left (drainProgress says when) the service is INACTIVE.
 */
async function drain(
  deps: ServiceWorkerDeps,
  tx: Tx,
  service: ServiceRow,
  now: Date,
): Promise<Attempt<Applied>> {
  const list = await listDrainingTasks(tx, service.id);
  const reason = serviceDeletedReason(await listDeployments(tx, [service.id]));
  const stops = await requestTaskStops(
    tx,
    service.clusterId,
    list
      .filter((t) => t.lastStatus !== 'STOPPED' && t.desiredStatus === 'RUNNING')
      .map((t) => ({ taskId: t.id, stopCode: 'ServiceSchedulerInitiated' as const, reason })),
    now,
  );
  const progress = drainProgress(list, now, deps.settings.agentTimeoutMs);
  await updateService(tx, service.id, {
    runningCount: progress.running,
    pendingCount: progress.pending,
    ...(progress.inactive ? { status: 'INACTIVE' as const, updatedAt: now } : {}),
  });
  if (progress.inactive) await deleteDeployments(tx, service.id);
  return committed(
    { kind: 'draining', inactive: progress.inactive, stopping: progress.stopping },
    stops.instanceIds,
  );
}

/**
 * The sweep: every live service is queued, whatever happened. It heals a lost job or a flushed Redis,
 * and is how a silent agent is noticed (no event says "a heartbeat did not come"). Deduplication
 * makes it cheap: a service whose job is already waiting gets no second one.
 */
export async function sweepServices(deps: ServiceWorkerDeps): Promise<number> {
  const ids = await listLiveServiceIds(deps.db);
  for (const id of ids) await deps.queues.evaluateService(id, 'sweep');
  return ids.length;
}
