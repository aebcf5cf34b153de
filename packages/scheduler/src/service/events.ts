/**
 * The words of the ECS service scheduler: service events, stopped reasons and rollout state reasons.
 *
 * Scripts and dashboards grep these (`has reached a steady state.` above all), so the texts follow ECS
 * word for word where ECS has one; the few that are bosun's own say so. Ids are printed the way ECS
 * prints them: the service name, the task id (not its ARN), the deployment id, the container instance id.
 */

/** `(service web) has reached a steady state.` */
export const steadyStateEvent = (service: string): string =>
  `(service ${service}) has reached a steady state.`;

/** `(service web) has started 2 tasks: (task abc) (task def).` */
export const startedTasksEvent = (service: string, taskIds: readonly string[]): string =>
  `(service ${service}) has started ${taskIds.length} tasks: ${taskList(taskIds)}.`;

/** `(service web) has stopped 1 running tasks: (task abc).` ECS says "running tasks" even for one. */
export const stoppedTasksEvent = (service: string, taskIds: readonly string[]): string =>
  `(service ${service}) has stopped ${taskIds.length} running tasks: ${taskList(taskIds)}.`;

/** `(service web) (deployment ecs-svc/123) deployment completed.` */
export const deploymentCompletedEvent = (service: string, deploymentId: string): string =>
  `(service ${service}) (deployment ${deploymentId}) deployment completed.`;

/**
 * `(service web) was unable to place a task because no container instance met all of its requirements.
 * The closest matching (container-instance ci-1) has insufficient memory available.` — `lacking` is the
 * placement result's `closest.lacking`. Without any instance at all, ECS's "no instances" reason.
 */
export const unableToPlaceEvent = (
  service: string,
  closest: { instanceId: string; lacking: string } | undefined,
): string => {
  const head = `(service ${service}) was unable to place a task because no container instance met all of its requirements.`;
  return closest === undefined
    ? `${head} Reason: No Container Instances were found in your cluster.`
    : `${head} The closest matching (container-instance ${closest.instanceId}) ${closest.lacking}.`;
};

/** minimumHealthyPercent 100 with maximumPercent 100 (or rounding to the same effect): no move is allowed. */
export const deploymentConfigurationDeadlockEvent = (service: string): string =>
  `(service ${service}) was unable to stop or start tasks during a deployment because of the service deployment configuration. Update the minimumHealthyPercent or maximumPercent value and try again.`;

/** Crash-loop throttling (EventBridge SERVICE_TASK_START_IMPAIRED). */
export const unableToStartTasksEvent = (service: string): string =>
  `(service ${service}) is unable to consistently start tasks successfully.`;

/** Emitted when the scheduler replaces a task whose container health check reports UNHEALTHY. */
export const failedHealthChecksEvent = (service: string, taskId: string): string =>
  `(service ${service}) (task ${taskId}) failed container health checks.`;

/**
 * bosun's own: hosts fell silent together (host-loss.ts), so their tasks are kept, not replaced.
 * `(service web) is not replacing the tasks of 2 of 3 container instances, silent together: …`
 */
export const suspectedPartitionEvent = (service: string, silent: number, of: number): string =>
  `(service ${service}) is not replacing the tasks of ${silent} of ${of} container instances, silent together: bosun suspects a network partition or an outage of its own and waits for them to return.`;

/** The circuit breaker tripped. */
export const deploymentFailedEvent = (service: string, deploymentId: string): string =>
  `(service ${service}) (deployment ${deploymentId}) deployment failed: tasks failed to start.`;

/** The circuit breaker rolls back to the last COMPLETED deployment. */
export const rollingBackEvent = (service: string, deploymentId: string): string =>
  `(service ${service}) rolling back to deployment ${deploymentId}.`;

// ---------------------------------------------------------------------------------------------------
// Rollout state reasons (deployments[].rolloutStateReason)

export const rolloutInProgressReason = (deploymentId: string): string =>
  `ECS deployment ${deploymentId} in progress.`;
export const rolloutCompletedReason = (deploymentId: string): string =>
  `ECS deployment ${deploymentId} completed.`;
export const CIRCUIT_BREAKER_FAILED_REASON = 'ECS deployment circuit breaker: tasks failed to start.';
export const rollbackReason = (deploymentId: string): string =>
  `ECS deployment circuit breaker: rolling back to deploymentId ${deploymentId}.`;

// ---------------------------------------------------------------------------------------------------
// Stopped reasons (tasks[].stoppedReason) of the tasks the scheduler stops, all with stopCode
// ServiceSchedulerInitiated.

/** Scale-in and the old side of a rollout; `deploymentId` is the deployment driving the change (ECS). */
export const scalingActivityReason = (deploymentId: string): string =>
  `Scaling activity initiated by (deployment ${deploymentId})`;
/** ECS. */
export const FAILED_HEALTH_CHECKS_REASON = 'Task failed container health checks';
/** bosun's own: ECS has no wording for these. */
export const DRAINING_REASON = 'Container instance is draining';
export const INSTANCE_LOST_REASON = 'Container instance was lost (agent disconnected)';
export const CONSTRAINTS_REASON = "Container instance no longer meets the service's placement constraints";
export const NO_DEPLOYMENT_REASON = 'Task does not belong to a deployment of the service';

const taskList = (taskIds: readonly string[]): string => taskIds.map((id) => `(task ${id})`).join(' ');
