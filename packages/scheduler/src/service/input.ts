/** What one evaluation of a service reads: the service, its deployments and tasks, the cluster. */
import type {
  DeploymentStatus,
  HealthStatus,
  RolloutState,
  StopCode,
  TaskDesiredStatus,
  TaskLastStatus,
} from '@bosun/model';
import type { CandidateInstance, PlacementConstraint, PlacementStrategy } from '../placement/request.ts';
import type { TaskRequirements } from '../placement/requirements.ts';

export type SchedulingStrategy = 'REPLICA' | 'DAEMON';

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
  /**
   * Silent instances whose tasks are not replaced because the control plane suspects a partition or an
   * outage of its own (host-loss.ts): the service records an event saying so.
   */
  suspectedPartition?: { silentInstanceIds: readonly string[]; of: number };
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
