/** Status enums, declared once and reused by the schema, the API and the scheduler. */
export const CLUSTER_STATUSES = ['ACTIVE', 'PROVISIONING', 'DEPROVISIONING', 'FAILED', 'INACTIVE'] as const;
export type ClusterStatus = (typeof CLUSTER_STATUSES)[number];

/** ECS's REGISTRATION_FAILED is left out: bosun registers an instance in one step or not at all. */
export const CONTAINER_INSTANCE_STATUSES = [
  'REGISTERING',
  'ACTIVE',
  'DRAINING',
  'DEREGISTERING',
  'INACTIVE',
] as const;
export type ContainerInstanceStatus = (typeof CONTAINER_INSTANCE_STATUSES)[number];

export const TASK_DEFINITION_STATUSES = ['ACTIVE', 'INACTIVE', 'DELETE_IN_PROGRESS'] as const;
export type TaskDefinitionStatus = (typeof TASK_DEFINITION_STATUSES)[number];

/** Ordered: a task's lastStatus only ever moves to a later entry. */
export const TASK_LAST_STATUSES = [
  'PROVISIONING',
  'PENDING',
  'ACTIVATING',
  'RUNNING',
  'DEACTIVATING',
  'STOPPING',
  'DEPROVISIONING',
  'STOPPED',
] as const;
export type TaskLastStatus = (typeof TASK_LAST_STATUSES)[number];
export const TASK_DESIRED_STATUSES = ['RUNNING', 'STOPPED'] as const;
export type TaskDesiredStatus = (typeof TASK_DESIRED_STATUSES)[number];

export const taskStatusRank = (s: TaskLastStatus): number => TASK_LAST_STATUSES.indexOf(s);

export const CONTAINER_STATUSES = ['PENDING', 'RUNNING', 'STOPPED'] as const;
export type ContainerStatus = (typeof CONTAINER_STATUSES)[number];
export const containerStatusRank = (s: ContainerStatus): number => CONTAINER_STATUSES.indexOf(s);

export const HEALTH_STATUSES = ['HEALTHY', 'UNHEALTHY', 'UNKNOWN'] as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[number];

export const STOP_CODES = [
  'TaskFailedToStart',
  'EssentialContainerExited',
  'UserInitiated',
  'ServiceSchedulerInitiated',
  'SpotInterruption',
  'TerminationNotice',
] as const;
export type StopCode = (typeof STOP_CODES)[number];

/** A listed deployment of a service; one that has left (ECS's INACTIVE) is removed from the list instead. */
export const DEPLOYMENT_STATUSES = ['PRIMARY', 'ACTIVE'] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];

/** A deployment's rolloutState. */
export const ROLLOUT_STATES = ['IN_PROGRESS', 'COMPLETED', 'FAILED'] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];

/** A deleted service is DRAINING while its tasks stop, then INACTIVE (still describable). */
export const SERVICE_STATUSES = ['ACTIVE', 'DRAINING', 'INACTIVE'] as const;
export type ServiceStatus = (typeof SERVICE_STATUSES)[number];
