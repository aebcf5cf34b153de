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
import {
  type HealthStatus,
  type StopCode,
  type TaskDesiredStatus,
  type TaskLastStatus,
  taskStatusRank,
} from '@bosun/model';
import {
  type CandidateInstance,
  chooseTasksToStop,
  type PlacementConstraint,
  type PlacementFailure,
  type PlacementResult,
  type PlacementStrategy,
  placeTasks,
  type RunningTaskRef,
  type TaskRequirements,
} from './placement.ts';
import { evaluateClusterQuery } from './query-language.ts';
import {
  CIRCUIT_BREAKER_FAILED_REASON,
  CONSTRAINTS_REASON,
  DRAINING_REASON,
  deploymentCompletedEvent,
  deploymentConfigurationDeadlockEvent,
  deploymentFailedEvent,
  FAILED_HEALTH_CHECKS_REASON,
  failedHealthChecksEvent,
  INSTANCE_LOST_REASON,
  NO_DEPLOYMENT_REASON,
  rollbackReason,
  rollingBackEvent,
  rolloutCompletedReason,
  rolloutInProgressReason,
  scalingActivityReason,
  startedTasksEvent,
  steadyStateEvent,
  stoppedTasksEvent,
  unableToPlaceEvent,
  unableToStartTasksEvent,
} from './service-events.ts';

// ---------------------------------------------------------------------------------------------------
// Input

export type SchedulingStrategy = 'REPLICA' | 'DAEMON';
export type RolloutState = 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';
/** Deployments that have left (ECS's INACTIVE) are removed from the list instead. */
export type DeploymentStatus = 'PRIMARY' | 'ACTIVE';

export interface DeploymentCircuitBreaker {
  enable: boolean;
  rollback: boolean;
  /** ECS's resetOnHealthyTask: a task that turns healthy after the last failure resets failedTasks. Default true. */
  resetOnHealthyTask?: boolean;
}

export interface DeploymentConfiguration {
  /** Default 100 (REPLICA), 0 (DAEMON); clamped to 0–100. */
  minimumHealthyPercent?: number;
  /** Default 200 (REPLICA), 100 (DAEMON); at least 100. */
  maximumPercent?: number;
  deploymentCircuitBreaker?: DeploymentCircuitBreaker;
}

export interface ServiceSpec {
  /** Short name, as printed in events: `(service web)`. */
  name: string;
  arn: string;
  /** REPLICA: tasks to keep. DAEMON: ignored, the decision computes it (see `ServiceDecision.desiredCount`). */
  desiredCount: number;
  schedulingStrategy: SchedulingStrategy;
  deploymentConfiguration?: DeploymentConfiguration;
  placementConstraints: readonly PlacementConstraint[];
  /** Empty: DEFAULT_SERVICE_PLACEMENT_STRATEGY (REPLICA). DAEMON ignores strategies. */
  placementStrategy: readonly PlacementStrategy[];
  /** UNHEALTHY/UNKNOWN health is not held against a task this long after it started. Default 0. */
  healthCheckGracePeriodSeconds?: number;
}

export interface ServiceEvent {
  /** Epoch ms. */
  createdAt: number;
  message: string;
}

export interface DeploymentTaskDefinition {
  arn: string;
  /** From `taskRequirements(definition, 'service:<name>')`. */
  requirements: TaskRequirements;
  /** Some essential container defines a healthCheck: then RUNNING is not enough, the task must be HEALTHY. */
  hasHealthCheck: boolean;
}

/**
 * The scheduler's memory of a deployment's failures: plain data that the decision reads and returns, so
 * that a failure is counted once however often the service is evaluated.
 */
export interface LaunchRecord {
  /** Tasks whose end (STOPPED, or UNHEALTHY after grace) was already accounted for. Pruned to tasks still passed in. */
  seenTaskIds: string[];
  /** stoppedAt (else evaluation time) of the newest failure counted in failedTasks. */
  lastFailureAt: number | null;
  /** Tasks in a row that stopped without ever reaching RUNNING. */
  consecutiveStartFailures: number;
  lastStartFailureAt: number | null;
  /** No task of this deployment is launched before this time (crash-loop back-off). */
  throttledUntil: number | null;
}

export interface ServiceDeployment {
  /** `ecs-svc/<digits>`; also the tasks' `startedBy`. */
  id: string;
  status: DeploymentStatus;
  taskDefinition: DeploymentTaskDefinition;
  createdAt: number;
  updatedAt: number;
  desiredCount: number;
  pendingCount: number;
  runningCount: number;
  /** Circuit breaker failures (ECS `failedTasks`). */
  failedTasks: number;
  rolloutState: RolloutState;
  rolloutStateReason: string;
  launch: LaunchRecord;
}

export interface ServiceTask {
  /** 32 hex characters. */
  id: string;
  deploymentId: string;
  instanceId: string;
  lastStatus: TaskLastStatus;
  desiredStatus: TaskDesiredStatus;
  healthStatus: HealthStatus;
  createdAt: number;
  startedAt?: number | null;
  stoppedAt?: number | null;
  stopCode?: StopCode | null;
}

export interface ReconcileOptions {
  /** An event identical to the most recent one is not repeated within this time. Default 6 h (ECS's steady state). */
  eventRepeatMs?: number;
  /** When a placement failed, look again after this long even if nothing changes. Default 30 s. */
  placementRetryMs?: number;
}

export interface ReconcileServiceInput {
  service: ServiceSpec;
  /** Exactly one PRIMARY (the newest wins if several), then ACTIVE ones. */
  deployments: readonly ServiceDeployment[];
  /**
   * Every task of the service still stored, STOPPED ones included (they carry the failures the circuit
   * breaker and the throttle count; ECS keeps them an hour). A task being stopped has desiredStatus STOPPED.
   */
  tasks: readonly ServiceTask[];
  /** The cluster's container instances as placement sees them (remaining resources net of non-STOPPED tasks). */
  instances: readonly CandidateInstance[];
  /**
   * Instances whose tasks are lost: stopped (so the record closes) and replaced elsewhere. Omitted: every
   * instance with `agentConnected` false. Given: only these; tasks on other disconnected instances stay
   * counted as last reported and merely get no new placements. Tasks on instances not in `instances`
   * (deregistered) are always lost.
   */
  lostInstanceIds?: readonly string[];
  /** Recent service events, newest first (only the first one is needed, for de-duplication). */
  events: readonly ServiceEvent[];
  /** Fresh task ids, consumed in order by `place`; supply `maxNewTasks(input)` of them. */
  newTaskIds: readonly string[];
  /** Epoch ms. */
  now: number;
  /** Seeds placement and scale-in ties; taken as an unsigned 32-bit integer. */
  seed: number;
  options?: ReconcileOptions;
}

// ---------------------------------------------------------------------------------------------------
// Output

export interface TaskToStart {
  taskId: string;
  deploymentId: string;
  taskDefinitionArn: string;
  instanceId: string;
  instanceArn: string;
  /** `service:<name>`. */
  group: string;
  /** The deployment id, as ECS sets it. */
  startedBy: string;
}

export type StopCause =
  | 'deployment'
  | 'scale-in'
  | 'unhealthy'
  | 'draining'
  | 'instance-lost'
  | 'constraints';

export interface TaskToStop {
  taskId: string;
  /** stoppedReason. */
  reason: string;
  stopCode: 'ServiceSchedulerInitiated';
  cause: StopCause;
}

export interface ServiceDecision {
  /** Tasks to create, already placed; capacity is shared across the whole decision. */
  place: TaskToStart[];
  stop: TaskToStop[];
  /** The whole new list, PRIMARY first; write it as is. */
  deployments: ServiceDeployment[];
  /** Deployments that drained (or were superseded by a completed one): delete them. */
  removedDeploymentIds: string[];
  /** The service's desiredCount: as given for REPLICA, the number of eligible instances for DAEMON. */
  desiredCount: number;
  /** Service-level counts once the decision is applied (placed tasks count as pending). */
  runningCount: number;
  pendingCount: number;
  /** New events, newest first, de-duplicated against the most recent recorded one. */
  events: ServiceEvent[];
  /** True when the service has one deployment, COMPLETED, with exactly desiredCount healthy tasks and nothing in flight. */
  steady: boolean;
  /** When to evaluate again even if nothing changes (grace period ends, back-off ends, placement retry); null: on change only. */
  nextEvaluationAt: number | null;
  /** The first failed placement of this decision, for logs and API details. */
  placementFailure?: { explanation: string; failures: PlacementFailure[] };
}

// ---------------------------------------------------------------------------------------------------
// Constants and small rules

/** ECS services spread over availability zones, then instances; bosun's zone attribute is `bosun.zone`. */
export const DEFAULT_SERVICE_PLACEMENT_STRATEGY: readonly PlacementStrategy[] = [
  { type: 'spread', field: 'attribute:bosun.zone' },
  { type: 'spread', field: 'instanceId' },
];

export const EVENT_REPEAT_MS = 6 * 60 * 60 * 1000;
export const PLACEMENT_RETRY_MS = 30_000;
/** Start failures in a row before launches are delayed. */
export const THROTTLE_AFTER_FAILURES = 3;
export const THROTTLE_BASE_MS = 10_000;
export const THROTTLE_MAX_MS = 15 * 60 * 1000;

export interface ResolvedDeploymentConfiguration {
  minimumHealthyPercent: number;
  maximumPercent: number;
  circuitBreaker: Required<DeploymentCircuitBreaker>;
}

/** ECS defaults: REPLICA 100/200, DAEMON 0/100; circuit breaker off. */
export function resolveDeploymentConfiguration(service: ServiceSpec): ResolvedDeploymentConfiguration {
  const daemon = service.schedulingStrategy === 'DAEMON';
  const config = service.deploymentConfiguration ?? {};
  const min = finiteOr(config.minimumHealthyPercent, daemon ? 0 : 100);
  const max = finiteOr(config.maximumPercent, daemon ? 100 : 200);
  const breaker = config.deploymentCircuitBreaker;
  return {
    minimumHealthyPercent: Math.min(100, Math.max(0, min)),
    maximumPercent: Math.max(100, max),
    circuitBreaker: {
      enable: breaker?.enable ?? false,
      rollback: breaker?.rollback ?? false,
      resetOnHealthyTask: breaker?.resetOnHealthyTask ?? true,
    },
  };
}

/** Healthy tasks a rollout keeps: desiredCount × minimumHealthyPercent, rounded up. */
export const healthyFloor = (desiredCount: number, minimumHealthyPercent: number): number =>
  Math.max(0, Math.ceil((desiredCount * minimumHealthyPercent) / 100 - 1e-9));

/** Tasks (not stopped, not being stopped) a rollout may have: desiredCount × maximumPercent, rounded down. */
export const taskCeiling = (desiredCount: number, maximumPercent: number): number =>
  Math.floor((desiredCount * maximumPercent) / 100 + 1e-9);

/** ECS: 0.5 × desiredCount, rounded up, at least 3 and at most 200. */
export const circuitBreakerThreshold = (desiredCount: number): number =>
  Math.min(200, Math.max(3, Math.ceil(0.5 * desiredCount)));

/** Back-off after `failures` start failures in a row: none below the threshold, then 10 s, 20 s, 40 s … 15 min. */
export function throttleDelayMs(failures: number): number {
  if (failures < THROTTLE_AFTER_FAILURES) return 0;
  const exponent = Math.min(failures - THROTTLE_AFTER_FAILURES, 20);
  return Math.min(THROTTLE_MAX_MS, THROTTLE_BASE_MS * 2 ** exponent);
}

/** The most task ids one decision can consume: desiredCount (REPLICA) or the instance count (DAEMON). */
export function maxNewTasks(input: Pick<ReconcileServiceInput, 'service' | 'instances'>): number {
  return input.service.schedulingStrategy === 'DAEMON'
    ? input.instances.length
    : Math.max(0, Math.floor(finiteOr(input.service.desiredCount, 0)));
}

export const emptyLaunchRecord = (): LaunchRecord => ({
  seenTaskIds: [],
  lastFailureAt: null,
  consecutiveStartFailures: 0,
  lastStartFailureAt: null,
  throttledUntil: null,
});

/** A fresh PRIMARY deployment (CreateService / UpdateService), IN_PROGRESS, no failures, no throttle. */
export function createDeployment(p: {
  id: string;
  taskDefinition: DeploymentTaskDefinition;
  desiredCount: number;
  now: number;
}): ServiceDeployment {
  return {
    id: p.id,
    status: 'PRIMARY',
    taskDefinition: p.taskDefinition,
    createdAt: p.now,
    updatedAt: p.now,
    desiredCount: p.desiredCount,
    pendingCount: 0,
    runningCount: 0,
    failedTasks: 0,
    rolloutState: 'IN_PROGRESS',
    rolloutStateReason: rolloutInProgressReason(p.id),
    launch: emptyLaunchRecord(),
  };
}

/** UpdateService with a new deployment: it becomes PRIMARY, the previous ones ACTIVE. Pure. */
export function startDeployment(
  deployments: readonly ServiceDeployment[],
  next: ServiceDeployment,
): ServiceDeployment[] {
  return [
    { ...next, status: 'PRIMARY' },
    ...deployments.filter((d) => d.id !== next.id).map((d) => ({ ...d, status: 'ACTIVE' as const })),
  ];
}

// ---------------------------------------------------------------------------------------------------
// The decision

/** A task that is neither STOPPED nor being stopped, as the scheduler sees it. */
interface Live {
  task: ServiceTask;
  deployment: ServiceDeployment | undefined;
  instance: CandidateInstance | undefined;
  running: boolean;
  /** RUNNING and, with a health check, HEALTHY: counts toward minimumHealthyPercent. */
  healthy: boolean;
  /** UNHEALTHY once the grace period is over: to be replaced. */
  unhealthy: boolean;
  /** Its instance is lost, deregistered or INACTIVE. */
  gone: boolean;
  draining: boolean;
}

type RetireKind = 'old' | 'draining' | 'surplus' | 'unhealthy';

interface Retiree {
  live: Live;
  kind: RetireKind;
}

class Plan {
  readonly stops: TaskToStop[] = [];
  readonly stopped = new Set<string>();
  readonly places: TaskToStart[] = [];
  /** Events in the order they happen: breaker and throttle, health failures, problems. */
  readonly early: string[] = [];
  readonly health: string[] = [];
  readonly problems: string[] = [];
  readonly wakeUps: number[] = [];
  placementFailure: { explanation: string; failures: PlacementFailure[] } | undefined;
  private nextId = 0;

  constructor(
    readonly input: ReconcileServiceInput,
    readonly view: ClusterView,
  ) {}

  stop(live: Live, cause: StopCause, reason: string): void {
    if (this.stopped.has(live.task.id)) return;
    this.stopped.add(live.task.id);
    this.stops.push({ taskId: live.task.id, reason, stopCode: 'ServiceSchedulerInitiated', cause });
    if (cause === 'unhealthy')
      this.health.push(failedHealthChecksEvent(this.input.service.name, live.task.id));
  }

  /** Task ids left for new tasks; when they run out, come back at once for more. */
  takeIds(count: number): string[] {
    const available = this.input.newTaskIds.length - this.nextId;
    if (count > available) this.wakeUps.push(this.input.now);
    const ids = this.input.newTaskIds.slice(this.nextId, this.nextId + Math.min(count, available));
    this.nextId += ids.length;
    return ids;
  }

  failedPlacement(result: PlacementResult, waitingForStops: boolean): void {
    this.wakeUps.push(this.input.now + (this.input.options?.placementRetryMs ?? PLACEMENT_RETRY_MS));
    if (this.placementFailure !== undefined) return;
    this.placementFailure = { explanation: result.explanation, failures: result.failures };
    // Tasks of the service still stopping hold resources that are about to come free: wait for them.
    if (!waitingForStops) this.problems.push(unableToPlaceEvent(this.input.service.name, result.closest));
  }
}

/** Copies of the instances whose capacity shrinks as this decision places tasks. */
class ClusterView {
  private readonly byId = new Map<string, CandidateInstance>();

  constructor(instances: readonly CandidateInstance[]) {
    for (const instance of instances) this.byId.set(instance.instanceId, instance);
  }

  get(id: string): CandidateInstance | undefined {
    return this.byId.get(id);
  }

  all(): CandidateInstance[] {
    return [...this.byId.values()];
  }

  take(instanceId: string, task: TaskRequirements): void {
    const instance = this.byId.get(instanceId);
    if (instance === undefined) return;
    const usedPorts = new Set(instance.usedPorts);
    for (const port of task.ports) usedPorts.add(`${port.protocol}:${port.hostPort}`);
    this.byId.set(instanceId, {
      ...instance,
      remainingCpu: instance.remainingCpu - task.cpu,
      remainingMemory: instance.remainingMemory - task.memory,
      usedPorts,
      taskGroups: new Set([...instance.taskGroups, task.group]),
    });
  }
}

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

// ---------------------------------------------------------------------------------------------------
// Failure accounting

/**
 * Counts each new failure of a deployment's tasks once: a task that stopped without ever reaching RUNNING
 * (circuit breaker and throttle), one that stopped by itself after running, or is UNHEALTHY after its
 * grace period (circuit breaker only, while the deployment is the IN_PROGRESS PRIMARY). Stops the
 * scheduler or a user asked for, and tasks lost with their instance, are not failures. Returns true when
 * this evaluation (re)starts the throttle.
 */
function accountFailures(
  d: ServiceDeployment,
  tasks: readonly ServiceTask[],
  isPrimary: boolean,
  config: ResolvedDeploymentConfiguration,
  classify: (task: ServiceTask) => Live,
  isGone: (instanceId: string) => boolean,
  now: number,
): boolean {
  const present = new Set(tasks.map((t) => t.id));
  const seen = new Set(d.launch.seenTaskIds.filter((id) => present.has(id)));
  const rollingOut = isPrimary && d.rolloutState === 'IN_PROGRESS';
  let failures = 0;
  let startFailures = 0;
  let lastFailureAt = d.launch.lastFailureAt;
  let lastStartFailureAt = d.launch.lastStartFailureAt;
  for (const task of sortTasks(tasks)) {
    if (seen.has(task.id)) continue;
    if (task.lastStatus === 'STOPPED') {
      seen.add(task.id);
      if (!isPrimary) continue;
      if (task.stopCode === 'ServiceSchedulerInitiated' || task.stopCode === 'UserInitiated') continue;
      if (isGone(task.instanceId)) continue;
      const at = task.stoppedAt ?? now;
      const neverRan = (task.startedAt ?? null) === null;
      if (neverRan) {
        startFailures += 1;
        lastStartFailureAt = Math.max(lastStartFailureAt ?? at, at);
      }
      if (rollingOut) {
        failures += 1;
        lastFailureAt = Math.max(lastFailureAt ?? at, at);
      }
    } else if (rollingOut && task.desiredStatus === 'RUNNING' && classify(task).unhealthy) {
      seen.add(task.id);
      failures += 1;
      lastFailureAt = Math.max(lastFailureAt ?? now, now);
    }
  }
  d.launch.seenTaskIds = [...seen].sort();
  d.failedTasks += failures;
  d.launch.lastFailureAt = lastFailureAt;
  d.launch.lastStartFailureAt = lastStartFailureAt;

  // A task that started after the last failure and is healthy now resets the breaker (resetOnHealthyTask);
  // one that reached RUNNING after the last start failure ends the crash loop.
  const healthyAfter = (since: number | null): boolean =>
    since !== null &&
    tasks.some((t) => {
      const startedAt = t.startedAt ?? null;
      return (
        startedAt !== null &&
        startedAt > since &&
        t.lastStatus !== 'STOPPED' &&
        t.desiredStatus === 'RUNNING' &&
        classify(t).healthy
      );
    });
  if (config.circuitBreaker.resetOnHealthyTask && d.failedTasks > 0 && healthyAfter(lastFailureAt)) {
    d.failedTasks = 0;
  }

  let throttleStarted = false;
  if (startFailures > 0) {
    d.launch.consecutiveStartFailures += startFailures;
    const delay = throttleDelayMs(d.launch.consecutiveStartFailures);
    if (delay > 0) {
      d.launch.throttledUntil = Math.max(now, lastStartFailureAt ?? now) + delay;
      throttleStarted = true;
    }
  }
  const ranSince = (since: number | null): boolean =>
    since !== null && tasks.some((t) => (t.startedAt ?? null) !== null && (t.startedAt as number) > since);
  if (d.launch.consecutiveStartFailures > 0 && ranSince(d.launch.lastStartFailureAt)) {
    d.launch.consecutiveStartFailures = 0;
    d.launch.throttledUntil = null;
    throttleStarted = false;
  }
  return throttleStarted;
}

const throttled = (d: ServiceDeployment, now: number): boolean =>
  d.launch.throttledUntil !== null && now < d.launch.throttledUntil;

/** The most recent non-PRIMARY deployment that reached COMPLETED. */
function rollbackTarget(deployments: readonly ServiceDeployment[]): ServiceDeployment | undefined {
  let best: ServiceDeployment | undefined;
  for (const d of deployments) {
    if (d.status === 'PRIMARY' || d.rolloutState !== 'COMPLETED') continue;
    if (best === undefined || d.createdAt > best.createdAt) best = d;
  }
  return best;
}

// ---------------------------------------------------------------------------------------------------
// REPLICA

interface MoveContext {
  input: ReconcileServiceInput;
  plan: Plan;
  view: ClusterView;
  primary: ServiceDeployment;
  deployments: readonly ServiceDeployment[];
  live: readonly Live[];
  desiredCount: number;
  config: ResolvedDeploymentConfiguration;
  launchAllowed: boolean;
  stoppingCount: number;
  seed: number;
}

/**
 * ECS's rolling update, which also covers replacements and scale-in:
 * - keepers are the PRIMARY's tasks that stay (not unhealthy, not on a draining or lost instance), at most
 *   desiredCount of them; everything else live is a retiree;
 * - retirees that are not healthy go at once; healthy ones go while the healthy count stays at or above
 *   the floor (oldest deployment first, then drained, then surplus), chosen strategy-aware;
 * - new PRIMARY tasks start up to desiredCount keepers, within the ceiling of live tasks;
 * - an UNHEALTHY task is replaced first when the ceiling allows, and stopped once its replacement is
 *   healthy; when the ceiling leaves no room it is stopped first.
 * Returns true when the configuration allows no move at all (the 100/100 deadlock).
 */
function moveReplica(c: MoveContext): boolean {
  const { plan, primary, desiredCount, config } = c;
  const scaling = scalingActivityReason(primary.id);
  const floor = healthyFloor(desiredCount, config.minimumHealthyPercent);
  const ceiling = taskCeiling(desiredCount, config.maximumPercent);
  const frozen = primary.rolloutState === 'FAILED';

  const keepers: Live[] = [];
  const retirees: Retiree[] = [];
  for (const l of c.live) {
    if (l.gone) {
      plan.stop(l, 'instance-lost', INSTANCE_LOST_REASON);
    } else if (l.deployment !== primary) {
      // A failed deployment without rollback launches nothing and leaves the old tasks where they are.
      if (!frozen) retirees.push({ live: l, kind: 'old' });
    } else if (l.draining) {
      if (!l.running) plan.stop(l, 'draining', DRAINING_REASON);
      else retirees.push({ live: l, kind: 'draining' });
    } else if (l.unhealthy) {
      retirees.push({ live: l, kind: 'unhealthy' });
    } else {
      keepers.push(l);
    }
  }

  // Scale-in: the surplus keepers, not yet running first, then not yet healthy, then strategy-aware.
  if (keepers.length > desiredCount) {
    const surplus = chooseStops(c, keepers, keepers.length - desiredCount, 1);
    for (const l of surplus) {
      keepers.splice(keepers.indexOf(l), 1);
      retirees.push({ live: l, kind: 'surplus' });
    }
  }

  let healthy = c.live.filter((l) => !l.gone && l.healthy).length;
  const stopRetiree = (r: Retiree): void => {
    if (r.live.healthy) healthy -= 1;
    if (r.kind === 'draining') plan.stop(r.live, 'draining', DRAINING_REASON);
    else if (r.kind === 'unhealthy') plan.stop(r.live, 'unhealthy', FAILED_HEALTH_CHECKS_REASON);
    else plan.stop(r.live, r.kind === 'surplus' ? 'scale-in' : 'deployment', scaling);
  };

  // Retirees that do not count as healthy cost nothing to stop (unhealthy ones wait for their replacement).
  for (const r of retirees) if (r.kind !== 'unhealthy' && !r.live.healthy) stopRetiree(r);

  // Healthy retirees, as the floor allows.
  const healthyRetirees = orderHealthyRetirees(
    c,
    retirees.filter((r) => r.kind !== 'unhealthy' && r.live.healthy),
  );
  let blockedByFloor = 0;
  for (const r of healthyRetirees) {
    if (healthy - 1 >= floor) stopRetiree(r);
    else blockedByFloor += 1;
  }

  // Starts, within the ceiling.
  const liveCount = (): number =>
    keepers.length + retirees.filter((r) => !plan.stopped.has(r.live.task.id)).length;
  const unhealthy = retirees.filter((r) => r.kind === 'unhealthy');
  let starts = c.launchAllowed
    ? Math.max(0, Math.min(desiredCount - keepers.length, ceiling - liveCount()))
    : 0;
  let shortfall = desiredCount - keepers.length - starts;
  for (const r of unhealthy) {
    if (!c.launchAllowed) {
      stopRetiree(r); // nothing will replace it: no reason to keep a failed task
    } else if (shortfall > 0) {
      // No room to start its replacement first: stop it, and start the replacement now.
      stopRetiree(r);
      const room = ceiling - liveCount() - starts;
      if (room > 0) {
        starts += 1;
        shortfall -= 1;
      }
    }
  }
  // Replacements are in: the unhealthy ones they replaced can go.
  const healthyKeepers = keepers.filter((l) => l.healthy).length;
  if (healthyKeepers >= desiredCount) for (const r of unhealthy) stopRetiree(r);

  const placed = starts > 0 ? placeFor(c, primary, starts, keepers) : 0;

  const inFlight =
    c.stoppingCount > 0 || c.live.some((l) => !l.running && !plan.stopped.has(l.task.id)) || placed > 0;
  const moved = plan.stops.length > 0 || placed > 0;
  if (frozen) return false;
  return (
    desiredCount > 0 &&
    !moved &&
    !inFlight &&
    c.launchAllowed &&
    blockedByFloor > 0 &&
    ceiling - liveCount() <= 0
  );
}

/**
 * Orders healthy retirees for stopping: the oldest deployment first, then tasks on draining instances,
 * then surplus PRIMARY tasks; within each group the placement strategy decides (chooseTasksToStop), so
 * that what remains stays spread.
 */
function orderHealthyRetirees(c: MoveContext, retirees: readonly Retiree[]): Retiree[] {
  const groups = new Map<string, Retiree[]>();
  const rank = (r: Retiree): string => {
    if (r.kind === 'old') {
      const created = r.live.deployment?.createdAt ?? Number.NEGATIVE_INFINITY;
      return `0:${String(created).padStart(20, '0')}:${r.live.task.deploymentId}`;
    }
    return r.kind === 'draining' ? '1' : '2';
  };
  for (const r of retirees) {
    const key = rank(r);
    const list = groups.get(key) ?? [];
    list.push(r);
    groups.set(key, list);
  }
  const ordered: Retiree[] = [];
  const keys = [...groups.keys()].sort();
  for (const [index, key] of keys.entries()) {
    const group = groups.get(key) ?? [];
    const byId = new Map(group.map((r) => [r.live.task.id, r]));
    const order = chooseStops(
      c,
      group.map((r) => r.live),
      group.length,
      11 + index,
    );
    for (const l of order) {
      const r = byId.get(l.task.id);
      if (r !== undefined) ordered.push(r);
    }
  }
  return ordered;
}

/**
 * Picks `count` tasks to stop: not running first, then running but not healthy, then healthy, each tier
 * strategy-aware (spread takes from the fullest zone/instance, binpack empties the emptiest host).
 */
function chooseStops(c: MoveContext, tasks: readonly Live[], count: number, salt: number): Live[] {
  const tiers = [
    tasks.filter((l) => !l.running),
    tasks.filter((l) => l.running && !l.healthy),
    tasks.filter((l) => l.healthy),
  ];
  const strategy = replicaStrategy(c.input.service);
  const instances = c.view.all();
  const chosen: Live[] = [];
  tiers.forEach((tier, index) => {
    const left = count - chosen.length;
    if (left <= 0 || tier.length === 0) return;
    const byId = new Map(tier.map((l) => [l.task.id, l]));
    const refs: RunningTaskRef[] = tier.map((l) => ({
      taskId: l.task.id,
      instanceId: l.task.instanceId,
      cpu: l.deployment?.taskDefinition.requirements.cpu ?? 0,
      memory: l.deployment?.taskDefinition.requirements.memory ?? 0,
    }));
    const ids = chooseTasksToStop(
      { count: left, strategy, seed: subSeed(c.seed, salt * 4 + index) },
      refs,
      instances,
    );
    for (const id of ids) {
      const l = byId.get(id);
      if (l !== undefined) chosen.push(l);
    }
  });
  return chosen;
}

/** Places `count` new tasks of a deployment; returns how many found an instance. */
function placeFor(
  c: MoveContext,
  deployment: ServiceDeployment,
  count: number,
  keepers: readonly Live[],
): number {
  const ids = c.plan.takeIds(count);
  if (ids.length === 0) return 0;
  const requirements = deployment.taskDefinition.requirements;
  const existing = new Map<string, number>();
  for (const l of keepers) existing.set(l.task.instanceId, (existing.get(l.task.instanceId) ?? 0) + 1);
  const result = placeTasks(
    {
      task: requirements,
      count: ids.length,
      constraints: c.input.service.placementConstraints,
      strategy: replicaStrategy(c.input.service),
      seed: subSeed(c.seed, 1),
      existingGroupTasks: existing,
    },
    c.view.all(),
  );
  result.placements.forEach((placement, i) => {
    const taskId = ids[i];
    if (taskId === undefined) return;
    c.view.take(placement.instanceId, requirements);
    c.plan.places.push(start(taskId, deployment, placement.instanceId, placement.arn));
  });
  if (result.unplaced > 0) c.plan.failedPlacement(result, c.stoppingCount > 0 || c.plan.stops.length > 0);
  return result.placements.length;
}

function replicaStrategy(service: ServiceSpec): readonly PlacementStrategy[] {
  if (service.schedulingStrategy === 'DAEMON') return [];
  return service.placementStrategy.length === 0
    ? DEFAULT_SERVICE_PLACEMENT_STRATEGY
    : service.placementStrategy;
}

const start = (
  taskId: string,
  d: ServiceDeployment,
  instanceId: string,
  instanceArn: string,
): TaskToStart => ({
  taskId,
  deploymentId: d.id,
  taskDefinitionArn: d.taskDefinition.arn,
  instanceId,
  instanceArn,
  group: d.taskDefinition.requirements.group,
  startedBy: d.id,
});

// ---------------------------------------------------------------------------------------------------
// DAEMON

/** ACTIVE, connected, not lost, and matching every memberOf constraint; in instance id order. */
function daemonEligible(
  instances: readonly CandidateInstance[],
  constraints: readonly PlacementConstraint[],
  lostIds: ReadonlySet<string>,
): CandidateInstance[] {
  return instances
    .filter(
      (i) =>
        i.status === 'ACTIVE' &&
        i.agentConnected &&
        !lostIds.has(i.instanceId) &&
        constraints.every((c) => c.type !== 'memberOf' || evaluateClusterQuery(c.expression, i)),
    )
    .sort((a, b) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0));
}

/**
 * One PRIMARY task per eligible instance. Per instance at most max(1, ⌊maximumPercent/100⌋) live tasks,
 * so with the default 100 % the old task stops before its replacement starts; healthy old tasks stop
 * only while the healthy count stays at the floor (default 0 %). Tasks on instances that stop being
 * eligible go: at once when the instance no longer meets the constraints, and on a DRAINING instance once
 * the daemon's tasks are the last ones there (ECS drains daemons last).
 */
function moveDaemon(c: MoveContext, eligible: readonly CandidateInstance[]): boolean {
  const { plan, primary, desiredCount, config } = c;
  const scaling = scalingActivityReason(primary.id);
  const floor = healthyFloor(desiredCount, config.minimumHealthyPercent);
  const perInstance = Math.max(1, Math.floor(config.maximumPercent / 100 + 1e-9));
  const frozen = primary.rolloutState === 'FAILED';
  const eligibleIds = new Set(eligible.map((i) => i.instanceId));
  let healthy = c.live.filter((l) => !l.gone && l.healthy).length;
  const stop = (l: Live, cause: StopCause, reason: string): void => {
    if (plan.stopped.has(l.task.id)) return;
    if (l.healthy) healthy -= 1;
    plan.stop(l, cause, reason);
  };

  const onInstance = new Map<string, Live[]>();
  for (const l of c.live) {
    const list = onInstance.get(l.task.instanceId) ?? [];
    list.push(l);
    onInstance.set(l.task.instanceId, list);
  }

  for (const l of c.live) {
    if (l.gone) stop(l, 'instance-lost', INSTANCE_LOST_REASON);
    else if (eligibleIds.has(l.task.instanceId) || l.instance === undefined || !l.instance.agentConnected)
      continue;
    else if (l.draining) {
      const ours = onInstance.get(l.task.instanceId)?.length ?? 0;
      if (l.instance.runningTasksCount <= ours || !l.running) stop(l, 'draining', DRAINING_REASON);
    } else if (l.instance.status === 'ACTIVE') stop(l, 'constraints', CONSTRAINTS_REASON);
  }

  interface Slot {
    instance: CandidateInstance;
    keeper: Live | undefined;
    old: Live[];
  }
  const slots: Slot[] = [];
  for (const instance of eligible) {
    const here = onInstance.get(instance.instanceId) ?? [];
    const mine = here.filter((l) => l.deployment === primary);
    for (const l of mine) if (l.unhealthy) stop(l, 'unhealthy', FAILED_HEALTH_CHECKS_REASON);
    const keepers = mine
      .filter((l) => !l.unhealthy)
      .sort(
        (a, b) =>
          Number(b.healthy) - Number(a.healthy) ||
          Number(b.running) - Number(a.running) ||
          a.task.createdAt - b.task.createdAt ||
          compareIds(a.task.id, b.task.id),
      );
    for (const extra of keepers.slice(1)) stop(extra, 'scale-in', scaling);
    const old = frozen ? [] : here.filter((l) => l.deployment !== primary);
    for (const l of old) if (!l.healthy) stop(l, 'deployment', scaling);
    slots.push({ instance, keeper: keepers[0], old: old.filter((l) => l.healthy) });
  }

  // Healthy old tasks, as the floor allows: first where the new task is already healthy, then running.
  const weight = (s: Slot): number => (s.keeper === undefined ? 2 : s.keeper.healthy ? 0 : 1);
  const ordered = [...slots].sort(
    (a, b) => weight(a) - weight(b) || compareIds(a.instance.instanceId, b.instance.instanceId),
  );
  let blockedByFloor = 0;
  for (const slot of ordered) {
    for (const l of slot.old) {
      if (healthy - 1 >= floor) stop(l, 'deployment', scaling);
      else blockedByFloor += 1;
    }
  }

  // Starts: every eligible instance without a PRIMARY task, where the per-instance ceiling allows.
  let placed = 0;
  let blockedByCeiling = 0;
  for (const slot of slots) {
    if (slot.keeper !== undefined || !c.launchAllowed) continue;
    const here = onInstance.get(slot.instance.instanceId) ?? [];
    const remaining = here.filter((l) => !plan.stopped.has(l.task.id)).length;
    if (remaining >= perInstance) {
      blockedByCeiling += 1;
      continue;
    }
    const [taskId] = plan.takeIds(1);
    if (taskId === undefined) break;
    const instance = c.view.get(slot.instance.instanceId) ?? slot.instance;
    const result = placeTasks(
      {
        task: primary.taskDefinition.requirements,
        count: 1,
        constraints: c.input.service.placementConstraints.filter((x) => x.type === 'memberOf'),
        strategy: [],
        seed: subSeed(c.seed, 2),
      },
      [instance],
    );
    const placement = result.placements[0];
    if (placement === undefined) {
      // Its old task is still stopping and holds the resources: wait for it instead of complaining.
      const waiting =
        here.length > 0 ||
        c.input.tasks.some(
          (t) =>
            t.instanceId === slot.instance.instanceId &&
            t.lastStatus !== 'STOPPED' &&
            t.desiredStatus === 'STOPPED',
        );
      c.plan.failedPlacement(result, waiting);
      continue;
    }
    c.view.take(placement.instanceId, primary.taskDefinition.requirements);
    plan.places.push(start(taskId, primary, placement.instanceId, placement.arn));
    placed += 1;
  }

  const inFlight =
    c.stoppingCount > 0 || c.live.some((l) => !l.running && !plan.stopped.has(l.task.id)) || placed > 0;
  return (
    !frozen &&
    desiredCount > 0 &&
    c.launchAllowed &&
    plan.stops.length === 0 &&
    !inFlight &&
    blockedByFloor > 0 &&
    blockedByCeiling > 0
  );
}

// ---------------------------------------------------------------------------------------------------
// Deployments after the decision

interface SettleInput {
  input: ReconcileServiceInput;
  plan: Plan;
  deployments: ServiceDeployment[];
  primary: ServiceDeployment | undefined;
  desiredCount: number;
  config: ResolvedDeploymentConfiguration;
  live: readonly Live[];
  isGone: (instanceId: string) => boolean;
}

interface SettleOutput {
  deployments: ServiceDeployment[];
  removed: string[];
  runningCount: number;
  pendingCount: number;
  steady: boolean;
  messages: string[];
}

/**
 * Counts per deployment as they will be once the decision is applied (by lastStatus, as ECS counts; new
 * tasks as pending), then completion of the PRIMARY (the only deployment with tasks, desiredCount healthy
 * tasks, nothing placed or stopping) and removal of drained deployments. A drained COMPLETED deployment
 * stays listed while the PRIMARY rolls out with circuit-breaker rollback on: it is the rollback target.
 */
function settleDeployments(s: SettleInput): SettleOutput {
  const { input, plan, primary, desiredCount } = s;
  const { now, service } = input;
  const messages: string[] = [];
  const byDeployment = new Map<string, ServiceTask[]>();
  for (const task of input.tasks) {
    const list = byDeployment.get(task.deploymentId) ?? [];
    list.push(task);
    byDeployment.set(task.deploymentId, list);
  }
  const placedBy = new Map<string, number>();
  for (const p of plan.places) placedBy.set(p.deploymentId, (placedBy.get(p.deploymentId) ?? 0) + 1);

  const before = new Map(input.deployments.map((d) => [d.id, d]));
  let runningCount = 0;
  let pendingCount = 0;
  // Tasks on a lost or deregistered instance are stopped by this decision or an earlier one, and no agent
  // will report it: they count as stopped, or nothing could ever complete or drain.
  const notStopped = (d: ServiceDeployment): ServiceTask[] =>
    (byDeployment.get(d.id) ?? []).filter((t) => t.lastStatus !== 'STOPPED' && !s.isGone(t.instanceId));
  for (const d of s.deployments) {
    const tasks = notStopped(d);
    d.runningCount = tasks.filter((t) => t.lastStatus === 'RUNNING').length;
    d.pendingCount =
      tasks.filter((t) => taskStatusRank(t.lastStatus) < taskStatusRank('RUNNING')).length +
      (placedBy.get(d.id) ?? 0);
    d.desiredCount =
      d === primary
        ? desiredCount
        : tasks.filter((t) => t.desiredStatus === 'RUNNING' && !plan.stopped.has(t.id)).length;
    runningCount += d.runningCount;
    pendingCount += d.pendingCount;
  }

  // Completion: the PRIMARY is the only deployment with tasks and holds exactly desiredCount healthy ones.
  let steady = false;
  if (primary !== undefined) {
    const othersHaveTasks = s.deployments.some((d) => d !== primary && notStopped(d).length > 0);
    const stoppingAny = input.tasks.some(
      (t) => t.lastStatus !== 'STOPPED' && t.desiredStatus === 'STOPPED' && !s.isGone(t.instanceId),
    );
    const primaryLive = s.live.filter(
      (l) => l.deployment === primary && !l.gone && !plan.stopped.has(l.task.id),
    );
    const settled =
      !othersHaveTasks &&
      !stoppingAny &&
      plan.stops.length === 0 &&
      plan.places.length === 0 &&
      primaryLive.length === desiredCount &&
      primaryLive.every((l) => l.healthy);
    if (settled && primary.rolloutState === 'IN_PROGRESS') {
      primary.rolloutState = 'COMPLETED';
      primary.rolloutStateReason = rolloutCompletedReason(primary.id);
      messages.push(deploymentCompletedEvent(service.name, primary.id));
    }
    steady = settled && primary.rolloutState === 'COMPLETED';
  }

  const keepTarget =
    primary !== undefined &&
    primary.rolloutState === 'IN_PROGRESS' &&
    s.config.circuitBreaker.enable &&
    s.config.circuitBreaker.rollback
      ? rollbackTarget(s.deployments)
      : undefined;
  const removed: string[] = [];
  const kept: ServiceDeployment[] = [];
  for (const d of s.deployments) {
    const drained =
      d !== primary && notStopped(d).length === 0 && !plan.places.some((p) => p.deploymentId === d.id);
    if (drained && d !== keepTarget) removed.push(d.id);
    else kept.push(d);
  }
  steady = steady && kept.length === 1;
  if (steady) messages.push(steadyStateEvent(service.name));

  for (const d of kept) {
    const old = before.get(d.id);
    if (old === undefined || deploymentChanged(old, d)) d.updatedAt = now;
  }
  return { deployments: kept, removed, runningCount, pendingCount, steady, messages };
}

function deploymentChanged(a: ServiceDeployment, b: ServiceDeployment): boolean {
  return (
    a.status !== b.status ||
    a.desiredCount !== b.desiredCount ||
    a.pendingCount !== b.pendingCount ||
    a.runningCount !== b.runningCount ||
    a.failedTasks !== b.failedTasks ||
    a.rolloutState !== b.rolloutState ||
    a.rolloutStateReason !== b.rolloutStateReason
  );
}

// ---------------------------------------------------------------------------------------------------
// Helpers

/**
 * Chronological messages → events newest first, dropping a message identical to the most recent event
 * (recorded or just emitted) that is younger than `repeatMs`.
 */
function dedupeEvents(
  messages: readonly string[],
  mostRecent: ServiceEvent | undefined,
  now: number,
  repeatMs: number,
): ServiceEvent[] {
  const out: ServiceEvent[] = [];
  let last = mostRecent;
  for (const message of messages) {
    if (last !== undefined && last.message === message && now - last.createdAt < repeatMs) continue;
    last = { createdAt: now, message };
    out.push(last);
  }
  return out.reverse();
}

function cloneDeployment(d: ServiceDeployment): ServiceDeployment {
  return { ...d, launch: { ...d.launch, seenTaskIds: [...d.launch.seenTaskIds] } };
}

/**
 * PRIMARY first (the newest if several claim it; the others become ACTIVE), then newest first. Without
 * any PRIMARY the service has nothing to run and its tasks are stopped.
 */
function orderDeployments(deployments: ServiceDeployment[]): ServiceDeployment[] {
  const sorted = [...deployments].sort((a, b) => b.createdAt - a.createdAt || compareIds(a.id, b.id));
  const primary = sorted.find((d) => d.status === 'PRIMARY');
  for (const d of sorted) if (d !== primary) d.status = 'ACTIVE';
  return primary === undefined ? sorted : [primary, ...sorted.filter((d) => d !== primary)];
}

/** Input order must not matter: tasks are handled in id order. */
function sortTasks(tasks: readonly ServiceTask[]): ServiceTask[] {
  return [...tasks].sort((a, b) => compareIds(a.id, b.id));
}

const compareIds = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const finiteOr = (value: number | undefined, fallback: number): number =>
  value !== undefined && Number.isFinite(value) ? value : fallback;

/** Independent streams from one seed for the separate placement and scale-in calls. */
function subSeed(seed: number, salt: number): number {
  let x = (seed >>> 0) ^ Math.imul(salt + 1, 0x9e3779b9);
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}
