import type {
  ContainerDefinition,
  ContainerStateReport,
  ContainerStatus,
  DesiredTask,
  HealthStatus,
  NetworkBinding,
  StopCode,
  TaskLastStatus,
  TaskStateReport,
} from '@bosun/model';
// A subpath, not the index, for the one function: see docker/container-spec.ts.
import { taskStatusRank } from '@bosun/model/status';
import type { ObservedContainer } from '../docker/types.ts';

/**
 * The agent's decision for one task, as a pure function: what the control plane wants (desired), what
 * the agent remembers doing (record, kept on disk), and what Docker shows (observed) → the next
 * Docker operations, the updated record, and the state to report. The shell in agent.ts carries out
 * the actions and calls this again on every change; nothing here does I/O or reads a clock.
 *
 *   desired RUNNING:  create+start containers whose dependsOn conditions hold → PENDING → RUNNING
 *                     an essential container exits (and restartPolicy does not apply) → stopping
 *   desired STOPPED or stopping:  stop containers in reverse dependency order → STOPPED
 *   STOPPED:          after the cleanup delay, remove the containers and the task's resources
 */

/** What the agent remembers about one container of a task. */
export interface ContainerRecord {
  /** Written to disk before create is called: after a crash, the name is looked up, never created twice. */
  createRequested?: boolean;
  /** Docker's id, once seen: a container that had one and is gone has vanished. */
  runtimeId?: string;
  /** Epoch ms of the last start bosun asked for (first start or restart). */
  lastStartAt?: number;
  restarts?: number;
  /** Why Docker refused to pull, create or start it (`CannotPullContainerError: …`). */
  failure?: string;
  stopRequestedAt?: number;
  /** The last observation, kept so a removed or vanished container is still described truthfully. */
  last?: { exitCode?: number; reason?: string; bindings?: NetworkBinding[]; startedAt?: number };
  removed?: boolean;
}

export interface TaskRecord {
  taskId: string;
  firstSeenAt: number;
  status: TaskLastStatus;
  /** Set when the agent itself decides the task must stop (essential exit, failure to start). */
  stopCode?: StopCode;
  stoppedReason?: string;
  pullStartedAt?: number;
  pullStoppedAt?: number;
  startedAt?: number;
  stoppingAt?: number;
  executionStoppedAt?: number;
  stoppedAt?: number;
  resourcesRemoved?: boolean;
  containers: Record<string, ContainerRecord>;
}

export type AgentAction =
  /** Pull (per the pull behaviour), create with the deterministic name, start. */
  | { kind: 'run'; container: string }
  /** Start an existing container: created before a crash, or restarted by its restartPolicy. */
  | { kind: 'start'; container: string; restart: boolean }
  | { kind: 'stop'; container: string; timeoutSeconds: number }
  | { kind: 'remove'; container: string }
  | { kind: 'removeTaskResources' };

export interface StepSettings {
  /** stopTimeout for containers that set none (ECS on EC2: 30 s). */
  defaultStopTimeoutSeconds: number;
  /** How long a STOPPED task's containers are kept for inspection before removal. */
  cleanupDelayMs: number;
}

export interface StepInput {
  desired: DesiredTask;
  /** Why the host policy refuses the task: if nothing of it was created yet, it ends TaskFailedToStart. */
  refusal?: string;
  record: TaskRecord;
  observed: readonly ObservedContainer[];
  now: number;
  settings: StepSettings;
}

export interface StepOutput {
  record: TaskRecord;
  actions: AgentAction[];
  report: TaskStateReport;
}

/** How a container looks right now, combining Docker's view with the agent's memory. */
interface ContainerView {
  def: ContainerDefinition;
  status: ContainerStatus;
  /** Docker has the container and it was never started. */
  createdOnly: boolean;
  /** It has been started at least once. */
  started: boolean;
  exitCode?: number;
  reason?: string;
  health: HealthStatus;
  bindings: NetworkBinding[];
  runtimeId?: string;
  observed?: ObservedContainer;
}

export const OOM_REASON = 'OutOfMemoryError: Container killed due to memory usage';
export const VANISHED_REASON = 'ContainerVanished: the container was removed from Docker outside bosun';
export const ESSENTIAL_EXITED = 'Essential container in task exited';
const DEFAULT_RESTART_ATTEMPT_PERIOD_S = 300;

/**
 * What a task should do now: as the control plane says, unless the control plane no longer lists it
 * (it must not run unsupervised) or has been silent for longer than the configured limit (0 = never).
 */
export function effectiveDesired(
  desired: DesiredTask,
  record: Pick<TaskRecord, 'status'>,
  context: { released: boolean; silenceMs: number; stopAfterDisconnectMs: number },
): DesiredTask {
  if (record.status === 'STOPPED') return desired;
  if (context.released) return stopped(desired, 'The control plane no longer lists this task');
  if (context.stopAfterDisconnectMs > 0 && context.silenceMs > context.stopAfterDisconnectMs) {
    return stopped(
      desired,
      `The agent lost contact with the control plane for ${Math.round(context.silenceMs / 1000)} s (BOSUN_STOP_TASKS_AFTER_DISCONNECT_SECONDS)`,
    );
  }
  return desired;
}

function stopped(desired: DesiredTask, reason: string): DesiredTask {
  return {
    ...desired,
    desiredStatus: 'STOPPED',
    stopCode: desired.stopCode ?? 'ServiceSchedulerInitiated',
    stoppedReason: desired.stoppedReason ?? reason,
  };
}

export function newTaskRecord(taskId: string, now: number): TaskRecord {
  return { taskId, firstSeenAt: now, status: 'PENDING', containers: {} };
}

export function stepTask(input: StepInput): StepOutput {
  const { desired, now, settings } = input;
  const record: TaskRecord = structuredClone(input.record);
  const defs = desired.taskDefinition.containerDefinitions;
  const byName = new Map(input.observed.map((o) => [o.containerName, o]));
  const views = new Map<string, ContainerView>();
  for (const def of defs) {
    const rec = record.containers[def.name] ?? {};
    record.containers[def.name] = rec;
    const obs = byName.get(def.name);
    if (obs) {
      rec.runtimeId = obs.id;
      rec.last = {
        exitCode: obs.exitCode,
        reason: reasonFor(obs),
        bindings: obs.networkBindings,
        startedAt: obs.startedAt ?? rec.last?.startedAt,
      };
    }
    views.set(def.name, viewContainer(def, rec, obs));
  }
  const actions: AgentAction[] = [];

  if (record.status === 'STOPPED') {
    cleanUp(record, views, now, settings, actions);
    return { record, actions, report: buildReport(desired, record, views) };
  }

  let stopping = desired.desiredStatus === 'STOPPED' || record.stopCode !== undefined;
  if (!stopping && input.refusal !== undefined && !anythingCreated(record)) {
    record.stopCode = 'TaskFailedToStart';
    record.stoppedReason = input.refusal;
    stopping = true;
  }
  if (!stopping) {
    // A round that ends in a stop drops what it had decided to start, bookkeeping included.
    const containersBefore = structuredClone(record.containers);
    const viewsBefore = new Map(views);
    const decided = decideRunning(record, views, now, actions);
    if (decided) {
      record.containers = containersBefore;
      for (const [name, v] of viewsBefore) views.set(name, v);
      record.stopCode = decided.stopCode;
      record.stoppedReason = decided.reason;
      stopping = true;
      actions.length = 0;
    }
  }

  if (stopping) {
    if (record.stopCode === undefined) {
      record.stopCode = desired.stopCode ?? 'UserInitiated';
      record.stoppedReason = desired.stoppedReason ?? 'Task stopped by the control plane';
    }
    record.stoppingAt ??= now;
    const running = [...views.values()].filter((v) => v.status === 'RUNNING');
    if (running.length === 0) {
      record.status = 'STOPPED';
      record.executionStoppedAt ??= now;
      record.stoppedAt ??= now;
    } else {
      advance(record, 'STOPPING');
      for (const v of running) {
        // Reverse dependency order: a container stops once nothing still running depends on it.
        const neededBy = running.some(
          (o) => o !== v && o.def.dependsOn?.some((d) => d.containerName === v.def.name),
        );
        const rec = record.containers[v.def.name] ?? {};
        const timeoutSeconds = v.def.stopTimeout ?? settings.defaultStopTimeoutSeconds;
        const alreadyAsked =
          rec.stopRequestedAt !== undefined && now - rec.stopRequestedAt < (timeoutSeconds + 15) * 1000;
        if (!neededBy && !alreadyAsked) {
          rec.stopRequestedAt = now;
          actions.push({ kind: 'stop', container: v.def.name, timeoutSeconds });
        }
      }
    }
  } else {
    const allUp = [...views.values()].every(
      (v) => v.status === 'RUNNING' || (v.status === 'STOPPED' && !v.def.essential),
    );
    if (allUp) {
      advance(record, 'RUNNING');
      record.startedAt ??= now;
    }
  }
  return { record, actions, report: buildReport(desired, record, views) };
}

function viewContainer(
  def: ContainerDefinition,
  rec: ContainerRecord,
  obs: ObservedContainer | undefined,
): ContainerView {
  const base = {
    def,
    health: 'UNKNOWN' as HealthStatus,
    bindings: rec.last?.bindings ?? [],
    runtimeId: rec.runtimeId,
  };
  if (obs) {
    const health: HealthStatus =
      obs.health === 'healthy' ? 'HEALTHY' : obs.health === 'unhealthy' ? 'UNHEALTHY' : 'UNKNOWN';
    const started = obs.startedAt !== undefined;
    const common = {
      ...base,
      observed: obs,
      health,
      bindings: obs.networkBindings,
      runtimeId: obs.id,
      started,
    };
    switch (obs.state) {
      case 'running':
      case 'paused':
      case 'restarting':
        return { ...common, status: 'RUNNING', createdOnly: false };
      case 'created':
        return rec.failure
          ? { ...common, status: 'STOPPED', createdOnly: true, reason: rec.failure }
          : { ...common, status: 'PENDING', createdOnly: true };
      default:
        return {
          ...common,
          health: 'UNKNOWN',
          status: 'STOPPED',
          createdOnly: false,
          exitCode: obs.exitCode,
          reason: rec.failure ?? reasonFor(obs),
        };
    }
  }
  if (rec.failure)
    return { ...base, status: 'STOPPED', createdOnly: false, started: false, reason: rec.failure };
  if (rec.runtimeId) {
    // Seen before and now gone: removed by bosun's cleanup, or by someone else.
    return {
      ...base,
      status: 'STOPPED',
      createdOnly: false,
      started: rec.last?.startedAt !== undefined,
      exitCode: rec.last?.exitCode,
      reason: rec.removed ? rec.last?.reason : (rec.last?.reason ?? VANISHED_REASON),
    };
  }
  return { ...base, status: 'PENDING', createdOnly: false, started: false };
}

function reasonFor(obs: ObservedContainer): string | undefined {
  if (obs.oomKilled) return OOM_REASON;
  return obs.error ? obs.error : undefined;
}

/** Moves the task forward only: a status never goes back. */
function advance(record: TaskRecord, to: TaskLastStatus): void {
  if (taskStatusRank(to) > taskStatusRank(record.status)) record.status = to;
}

type DependencyState = 'met' | 'waiting' | 'never';

export function dependencyState(condition: string, dep: ContainerView): DependencyState {
  switch (condition) {
    case 'START':
      return dep.started || dep.status === 'RUNNING' ? 'met' : dep.status === 'STOPPED' ? 'never' : 'waiting';
    case 'COMPLETE':
      return dep.status === 'STOPPED' ? (dep.started ? 'met' : 'never') : 'waiting';
    case 'SUCCESS':
      if (dep.status !== 'STOPPED') return 'waiting';
      return dep.started && dep.exitCode === 0 ? 'met' : 'never';
    case 'HEALTHY':
      if (dep.status === 'STOPPED') return 'never';
      return dep.health === 'HEALTHY' ? 'met' : 'waiting';
    default:
      return 'never';
  }
}

/**
 * While the task should run: which containers to run, start or restart; or a reason the whole task
 * must stop (an essential container exited, a container could not start, a dependency failed).
 */
function decideRunning(
  record: TaskRecord,
  views: Map<string, ContainerView>,
  now: number,
  actions: AgentAction[],
): { stopCode: StopCode; reason: string } | undefined {
  const everRunning = record.startedAt !== undefined;
  for (const v of views.values()) {
    const rec = record.containers[v.def.name] ?? {};
    if (v.status === 'STOPPED') {
      if (rec.failure) {
        return {
          stopCode: everRunning ? 'EssentialContainerExited' : 'TaskFailedToStart',
          reason: rec.failure,
        };
      }
      if (restartAllowed(v, rec, now)) {
        rec.restarts = (rec.restarts ?? 0) + 1;
        rec.lastStartAt = now;
        actions.push({ kind: 'start', container: v.def.name, restart: true });
        // Restarted in place, it still counts as running (as in ECS): a container status never goes back.
        views.set(v.def.name, { ...v, status: 'RUNNING' });
        continue;
      }
      if (v.def.essential) {
        return {
          stopCode: everRunning || v.started ? 'EssentialContainerExited' : 'TaskFailedToStart',
          reason: v.reason === VANISHED_REASON ? `${ESSENTIAL_EXITED}: ${VANISHED_REASON}` : ESSENTIAL_EXITED,
        };
      }
    }
  }
  // Exits are judged first, so the outcome does not depend on the order containers are listed in.
  for (const v of views.values()) {
    const rec = record.containers[v.def.name] ?? {};
    if (v.status !== 'PENDING') continue;
    let waiting = false;
    for (const d of v.def.dependsOn ?? []) {
      const dep = views.get(d.containerName);
      const state = dep ? dependencyState(d.condition, dep) : 'never';
      if (state === 'never') {
        return {
          stopCode: 'TaskFailedToStart',
          reason: `Container '${v.def.name}': dependency '${d.containerName}' can no longer meet condition ${d.condition}`,
        };
      }
      if (state === 'waiting' && dep && dependencyTimedOut(d.condition, dep, now)) {
        return {
          stopCode: 'TaskFailedToStart',
          reason: `Container '${v.def.name}': dependency '${d.containerName}' did not reach ${d.condition} within its startTimeout (${dep.def.startTimeout} s)`,
        };
      }
      if (state === 'waiting') waiting = true;
    }
    if (waiting) continue;
    rec.lastStartAt = now;
    actions.push(
      v.createdOnly
        ? { kind: 'start', container: v.def.name, restart: false }
        : { kind: 'run', container: v.def.name },
    );
  }
  return undefined;
}

/**
 * ECS startTimeout belongs to the dependency: counted from its start, it bounds how long dependents
 * wait for it to COMPLETE, SUCCEED or become HEALTHY (START is met by starting, so never times out).
 */
function dependencyTimedOut(condition: string, dep: ContainerView, now: number): boolean {
  const timeout = dep.def.startTimeout;
  const startedAt = dep.observed?.startedAt;
  if (timeout === undefined || startedAt === undefined || condition === 'START') return false;
  return now - startedAt > timeout * 1000;
}

/** ECS restartPolicy: not for ignored exit codes, and at most once per restartAttemptPeriod. */
function restartAllowed(v: ContainerView, rec: ContainerRecord, now: number): boolean {
  const policy = v.def.restartPolicy;
  if (!policy?.enabled || !v.started || !v.observed) return false;
  if (v.exitCode !== undefined && policy.ignoredExitCodes?.includes(v.exitCode)) return false;
  const period = (policy.restartAttemptPeriod ?? DEFAULT_RESTART_ATTEMPT_PERIOD_S) * 1000;
  const since = rec.lastStartAt ?? v.observed.startedAt ?? 0;
  // How long it ran before exiting, not how long ago it started: judged later (another container's
  // event, an agent restart), an early exit must not turn into a late restart.
  const exitedAt = v.observed.finishedAt ?? now;
  return exitedAt - since >= period;
}

function cleanUp(
  record: TaskRecord,
  views: Map<string, ContainerView>,
  now: number,
  settings: StepSettings,
  actions: AgentAction[],
): void {
  if (record.stoppedAt === undefined || now - record.stoppedAt < settings.cleanupDelayMs) return;
  let remaining = 0;
  for (const v of views.values()) {
    if (!v.observed) continue;
    remaining++;
    // Marked now: once Docker no longer shows it, it was removed by bosun, not vanished.
    const rec = record.containers[v.def.name];
    if (rec) rec.removed = true;
    actions.push({ kind: 'remove', container: v.def.name });
  }
  if (remaining === 0 && !record.resourcesRemoved) actions.push({ kind: 'removeTaskResources' });
}

/** Whether any container of the task was ever asked of Docker (a refusal comes before that only). */
export function anythingCreated(record: TaskRecord): boolean {
  return Object.values(record.containers).some(
    (c) => c.createRequested === true || c.runtimeId !== undefined,
  );
}

/** True once nothing of the task is left on the host; the agent may then forget it. */
export function isFullyCleanedUp(record: TaskRecord, observed: readonly ObservedContainer[]): boolean {
  return record.status === 'STOPPED' && record.resourcesRemoved === true && observed.length === 0;
}

function taskHealth(views: Iterable<ContainerView>): HealthStatus {
  let sawHealthy = false;
  let sawUnknown = false;
  for (const v of views) {
    if (!v.def.essential || !v.def.healthCheck) continue;
    if (v.health === 'UNHEALTHY') return 'UNHEALTHY';
    if (v.health === 'HEALTHY') sawHealthy = true;
    else sawUnknown = true;
  }
  return sawHealthy && !sawUnknown ? 'HEALTHY' : 'UNKNOWN';
}

function buildReport(
  desired: DesiredTask,
  record: TaskRecord,
  views: Map<string, ContainerView>,
): TaskStateReport {
  const containers: ContainerStateReport[] = [];
  for (const v of views.values()) {
    const status: ContainerStatus =
      record.status === 'STOPPED' && v.status === 'PENDING' ? 'STOPPED' : v.status;
    containers.push({
      name: v.def.name,
      lastStatus: status,
      ...(v.runtimeId ? { runtimeId: v.runtimeId } : {}),
      ...(status === 'STOPPED' && v.exitCode !== undefined ? { exitCode: v.exitCode } : {}),
      ...(status === 'STOPPED' && v.reason ? { reason: v.reason } : {}),
      ...(v.def.healthCheck ? { healthStatus: v.health } : {}),
      ...(v.bindings.length > 0 ? { networkBindings: v.bindings } : {}),
    });
  }
  const stopped = record.status === 'STOPPED';
  return {
    taskId: desired.taskId,
    lastStatus: record.status,
    containers,
    healthStatus: taskHealth(views.values()),
    ...(record.stopCode && (stopped || record.status === 'STOPPING') ? { stopCode: record.stopCode } : {}),
    ...(record.stoppedReason && (stopped || record.status === 'STOPPING')
      ? { stoppedReason: record.stoppedReason }
      : {}),
    ...(record.pullStartedAt !== undefined ? { pullStartedAt: record.pullStartedAt } : {}),
    ...(record.pullStoppedAt !== undefined ? { pullStoppedAt: record.pullStoppedAt } : {}),
    ...(record.startedAt !== undefined ? { startedAt: record.startedAt } : {}),
    ...(record.stoppingAt !== undefined ? { stoppingAt: record.stoppingAt } : {}),
    ...(record.executionStoppedAt !== undefined ? { executionStoppedAt: record.executionStoppedAt } : {}),
    ...(record.stoppedAt !== undefined ? { stoppedAt: record.stoppedAt } : {}),
  };
}
