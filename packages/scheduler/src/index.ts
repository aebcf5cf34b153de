/**
 * The package's one entry: the control plane imports `@bosun/scheduler` only. Names are listed, not
 * re-exported wholesale, so the folders' internals (slots, the filter table) stay internal.
 */
export type {
  ContainerInstanceStatus,
  DeploymentStatus,
  RolloutState,
} from '@bosun/model';
export {
  type BatchRequest,
  type BatchResult,
  type GroupTasks,
  placeBatch,
  reserveOn,
} from './placement/batch.ts';
export { placeTasks } from './placement/place-tasks.ts';
export type {
  CandidateInstance,
  PlacementConstraint,
  PlacementRequest,
  PlacementStrategy,
  SpreadField,
} from './placement/request.ts';
export {
  type ContainerReservation,
  type PortRequest,
  type TaskRequirements,
  type TaskReservationInput,
  taskRequirements,
} from './placement/requirements.ts';
export type {
  ClosestInstance,
  Placement,
  PlacementFailure,
  PlacementFailureReason,
  PlacementResult,
} from './placement/result.ts';
export {
  chooseTasksToStop,
  type RunningTaskRef,
  type ScaleInInstance,
  type StopChoiceRequest,
} from './placement/scale-in.ts';
export { compareAgentVersions } from './query/agent-version.ts';
export {
  MAX_EXPRESSION_LENGTH,
  MAX_NESTING_DEPTH,
  MAX_PATTERN_LENGTH,
  type QueryAst,
  type QueryOperator,
  type QueryPredicate,
  type QuerySubject,
  type QuerySyntaxError,
  type QueryTarget,
  type QueryValue,
} from './query/ast.ts';
export { evaluateClusterQuery } from './query/evaluate.ts';
export { formatClusterQuery } from './query/format.ts';
export { parseClusterQuery } from './query/parse.ts';
export type { ServiceDecision, StopCause, TaskToStart, TaskToStop } from './service/decision.ts';
export * from './service/events.ts';
export {
  type HostContact,
  type HostLossContext,
  type HostLossVerdict,
  hostLoss,
  massSilence,
  SMALL_CLUSTER_HOSTS,
} from './service/host-loss.ts';
export type {
  DeploymentCircuitBreaker,
  DeploymentConfiguration,
  DeploymentTaskDefinition,
  LaunchRecord,
  ReconcileOptions,
  ReconcileServiceInput,
  SchedulingStrategy,
  ServiceDeployment,
  ServiceEvent,
  ServiceSpec,
  ServiceTask,
} from './service/input.ts';
export { reconcileService } from './service/reconcile.ts';
export {
  circuitBreakerThreshold,
  createDeployment,
  DEFAULT_SERVICE_PLACEMENT_STRATEGY,
  EVENT_REPEAT_MS,
  emptyLaunchRecord,
  healthyFloor,
  maxNewTasks,
  PLACEMENT_RETRY_MS,
  type ResolvedDeploymentConfiguration,
  resolveDeploymentConfiguration,
  startDeployment,
  THROTTLE_AFTER_FAILURES,
  THROTTLE_BASE_MS,
  THROTTLE_MAX_MS,
  taskCeiling,
  throttleDelayMs,
} from './service/rules.ts';
