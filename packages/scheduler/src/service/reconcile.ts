/**
 * The ECS service scheduler as one pure decision: given a service, its deployments, its tasks and the
 * cluster, what to start, what to stop, and how the deployments and events read afterwards.
 *
 *   rows ─▶ account for failed tasks (circuit breaker, crash-loop throttle) ─▶ circuit breaker / rollback
 *        ─▶ classify live tasks (keepers / retirees / lost) ─▶ stops within minimumHealthyPercent
 *        ─▶ starts within maximumPercent, placed with placeTasks ─▶ deployments, events, next look
 *
 * Pure: no I/O, no clock (`now`), no randomness but `seed`, no mutation of the input. The caller (a
 * worker) loads the rows, calls `reconcileService`, and applies the decision in one transaction: insert
 * `place[]` as PENDING tasks, set desiredStatus STOPPED + stopCode + stoppedReason on `stop[]`, write
 * `deployments` (deleting `removedDeploymentIds`), append `events`, and schedule the next run at
 * `nextEvaluationAt`. Applying the same decision twice must be prevented by the caller's re-check (task
 * ids are primary keys; stops are idempotent).
 */
import { daemonEligible, moveDaemon } from './daemon.ts';
import type { ServiceDecision } from './decision.ts';
import { settleDeployments } from './deployments.ts';
import {
  CIRCUIT_BREAKER_FAILED_REASON,
  deploymentConfigurationDeadlockEvent,
  deploymentFailedEvent,
  NO_DEPLOYMENT_REASON,
  rollbackReason,
  rollingBackEvent,
  startedTasksEvent,
  steadyStateEvent,
  stoppedTasksEvent,
  suspectedPartitionEvent,
  unableToStartTasksEvent,
} from './events.ts';
import { accountFailures, rollbackTarget, throttled } from './failures.ts';
import { cloneDeployment, dedupeEvents, finiteOr, orderDeployments, sortTasks } from './helpers.ts';
import type { ReconcileServiceInput, ServiceDeployment, ServiceTask } from './input.ts';
import { ClusterView, type Live, type MoveContext, Plan } from './plan.ts';
import { moveReplica } from './replica.ts';
import {
  circuitBreakerThreshold,
  EVENT_REPEAT_MS,
  emptyLaunchRecord,
  resolveDeploymentConfiguration,
} from './rules.ts';

/**
 * Decides one evaluation of a service. See the module comment and the package README for the rules;
 * in short, ECS's rolling update (minimumHealthyPercent floor, maximumPercent ceiling), replacement of
 * stopped, unhealthy, drained and lost tasks, strategy-aware scale-in, circuit breaker with rollback,
 * crash-loop throttling, DAEMON services, and ECS's service events.
 */
export function reconcileService(input: ReconcileServiceInput): ServiceDecision {
  const { service, now } = input;
  const daemon = service.schedulingStrategy === 'DAEMON';
  const config = resolveDeploymentConfiguration(service);
  const graceMs = Math.max(0, finiteOr(service.healthCheckGracePeriodSeconds, 0)) * 1000;
  const view = new ClusterView(input.instances);
  const plan = new Plan(input, view);

  const deployments = orderDeployments(input.deployments.map(cloneDeployment));
  const lostIds = new Set(
    input.lostInstanceIds ?? input.instances.filter((i) => !i.agentConnected).map((i) => i.instanceId),
  );
  const isGone = (instanceId: string): boolean => {
    const instance = view.get(instanceId);
    return (
      instance === undefined ||
      lostIds.has(instanceId) ||
      instance.status === 'INACTIVE' ||
      instance.status === 'DEREGISTERING'
    );
  };
  const byDeployment = new Map<string, ServiceTask[]>();
  for (const task of input.tasks) {
    const list = byDeployment.get(task.deploymentId) ?? [];
    list.push(task);
    byDeployment.set(task.deploymentId, list);
  }
  const tasksOf = (d: ServiceDeployment): ServiceTask[] => byDeployment.get(d.id) ?? [];

  const eligible = daemon ? daemonEligible(input.instances, service.placementConstraints, lostIds) : [];
  const desiredCount = daemon ? eligible.length : Math.max(0, Math.floor(finiteOr(service.desiredCount, 0)));

  const hasHealthCheck = (d: ServiceDeployment | undefined): boolean =>
    d?.taskDefinition.hasHealthCheck ?? false;
  const classify = (task: ServiceTask, deployment: ServiceDeployment | undefined): Live => {
    const running = task.lastStatus === 'RUNNING';
    const checked = hasHealthCheck(deployment);
    const startedAt = task.startedAt ?? null;
    const inGrace = startedAt !== null && now < startedAt + graceMs;
    const instance = view.get(task.instanceId);
    return {
      task,
      deployment,
      instance,
      running,
      healthy: running && (!checked || task.healthStatus === 'HEALTHY'),
      unhealthy: running && checked && task.healthStatus === 'UNHEALTHY' && !inGrace,
      gone: isGone(task.instanceId),
      lost:
        lostIds.has(task.instanceId) &&
        instance !== undefined &&
        instance.status !== 'INACTIVE' &&
        instance.status !== 'DEREGISTERING',
      draining: instance?.status === 'DRAINING',
    };
  };

  // 1. Failures: counted once per task, for the circuit breaker and the crash-loop throttle.
  let primary = deployments.find((d) => d.status === 'PRIMARY');
  let throttleStarted = false;
  for (const d of deployments) {
    const isPrimary = d === primary;
    if (accountFailures(d, tasksOf(d), isPrimary, config, (t) => classify(t, d), isGone, now)) {
      throttleStarted = true;
    }
  }
  if (throttleStarted) plan.early.push(unableToStartTasksEvent(service.name));

  // 2. Circuit breaker: FAILED at the threshold, and with rollback the last COMPLETED deployment leads again.
  if (
    primary !== undefined &&
    config.circuitBreaker.enable &&
    primary.rolloutState === 'IN_PROGRESS' &&
    primary.failedTasks >= circuitBreakerThreshold(desiredCount)
  ) {
    primary.rolloutState = 'FAILED';
    primary.rolloutStateReason = CIRCUIT_BREAKER_FAILED_REASON;
    plan.early.push(deploymentFailedEvent(service.name, primary.id));
    const target = config.circuitBreaker.rollback ? rollbackTarget(deployments) : undefined;
    if (target !== undefined) {
      primary.status = 'ACTIVE';
      target.status = 'PRIMARY';
      target.rolloutState = 'IN_PROGRESS';
      target.rolloutStateReason = rollbackReason(target.id);
      target.launch = { ...emptyLaunchRecord(), seenTaskIds: target.launch.seenTaskIds };
      plan.early.push(rollingBackEvent(service.name, target.id));
      primary = target;
      deployments.splice(deployments.indexOf(target), 1);
      deployments.unshift(target);
    }
  }

  // 3. Live tasks, then the moves.
  const deploymentById = new Map(deployments.map((d) => [d.id, d]));
  const live: Live[] = [];
  let stoppingCount = 0;
  for (const task of sortTasks(input.tasks)) {
    if (task.lastStatus === 'STOPPED') continue;
    if (task.desiredStatus === 'STOPPED') {
      // On a lost instance nobody will report the stop: not worth waiting for.
      if (!isGone(task.instanceId)) stoppingCount += 1;
      continue;
    }
    live.push(classify(task, deploymentById.get(task.deploymentId)));
  }

  let deadlock = false;
  if (primary === undefined) {
    for (const l of live) plan.stop(l, 'deployment', NO_DEPLOYMENT_REASON);
  } else {
    const launchAllowed = primary.rolloutState !== 'FAILED' && !throttled(primary, now);
    if (
      primary.rolloutState !== 'FAILED' &&
      throttled(primary, now) &&
      primary.launch.throttledUntil !== null
    ) {
      plan.wakeUps.push(primary.launch.throttledUntil);
    }
    const context: MoveContext = {
      input,
      plan,
      view,
      primary,
      deployments,
      live,
      desiredCount,
      config,
      launchAllowed,
      stoppingCount,
      seed: input.seed,
    };
    deadlock = daemon ? moveDaemon(context, eligible) : moveReplica(context);
  }
  if (deadlock) plan.problems.push(deploymentConfigurationDeadlockEvent(service.name));
  if (input.suspectedPartition !== undefined) {
    const { silentInstanceIds, of } = input.suspectedPartition;
    plan.problems.push(suspectedPartitionEvent(service.name, silentInstanceIds.length, of));
  }

  // Grace periods ending change what counts as unhealthy: look again then.
  for (const l of live) {
    const startedAt = l.task.startedAt ?? null;
    if (
      l.running &&
      hasHealthCheck(l.deployment) &&
      l.task.healthStatus !== 'HEALTHY' &&
      startedAt !== null
    ) {
      if (now < startedAt + graceMs) plan.wakeUps.push(startedAt + graceMs);
    }
  }

  // 4. Deployments after the decision: counts, completion, removal.
  const outcome = settleDeployments({
    input,
    plan,
    deployments,
    primary,
    desiredCount,
    config,
    live,
    isGone,
  });

  const messages = [
    ...plan.early,
    ...plan.health,
    ...(plan.stops.length === 0
      ? []
      : [
          stoppedTasksEvent(
            service.name,
            plan.stops.map((x) => x.taskId),
          ),
        ]),
    ...(plan.places.length === 0
      ? []
      : [
          startedTasksEvent(
            service.name,
            plan.places.map((x) => x.taskId),
          ),
        ]),
    ...plan.problems,
    ...outcome.messages,
  ];
  const repeatMs = input.options?.eventRepeatMs ?? EVENT_REPEAT_MS;
  const events = dedupeEvents(messages, input.events[0], now, repeatMs);
  if (outcome.steady) {
    // ECS repeats the steady-state line now and then; come back when it may be said again.
    const last = input.events[0];
    if (events.length === 0 && last !== undefined && last.message === steadyStateEvent(service.name)) {
      plan.wakeUps.push(last.createdAt + repeatMs);
    }
  }

  const future = plan.wakeUps.filter((t) => Number.isFinite(t)).map((t) => Math.max(t, now));
  return {
    place: plan.places,
    stop: plan.stops,
    deployments: outcome.deployments,
    removedDeploymentIds: outcome.removed,
    desiredCount,
    runningCount: outcome.runningCount,
    pendingCount: outcome.pendingCount,
    events,
    steady: outcome.steady,
    nextEvaluationAt: future.length === 0 ? null : Math.min(...future),
    ...(plan.placementFailure === undefined ? {} : { placementFailure: plan.placementFailure }),
  };
}
