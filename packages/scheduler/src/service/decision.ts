/** What one evaluation of a service decides, for the caller to apply in one transaction. */
import type { PlacementFailure } from '../placement/result.ts';
import type { ServiceDeployment, ServiceEvent } from './input.ts';

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
