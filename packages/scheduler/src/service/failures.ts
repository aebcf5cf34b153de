/** Failure accounting: what the circuit breaker and the crash-loop throttle count, each failure once. */
import { sortTasks } from './helpers.ts';
import type { ServiceDeployment, ServiceTask } from './input.ts';
import type { Live } from './plan.ts';
import { type ResolvedDeploymentConfiguration, throttleDelayMs } from './rules.ts';

/**
 * Counts each new failure of a deployment's tasks once: a task that stopped without ever reaching RUNNING
 * (circuit breaker and throttle), one that stopped by itself after running, or is UNHEALTHY after its
 * grace period (circuit breaker only, while the deployment is the IN_PROGRESS PRIMARY). Stops the
 * scheduler or a user asked for, and tasks lost with their instance, are not failures. Returns true when
 * this evaluation (re)starts the throttle.
 */
export function accountFailures(
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

export const throttled = (d: ServiceDeployment, now: number): boolean =>
  d.launch.throttledUntil !== null && now < d.launch.throttledUntil;

/** The most recent non-PRIMARY deployment that reached COMPLETED. */
export function rollbackTarget(deployments: readonly ServiceDeployment[]): ServiceDeployment | undefined {
  let best: ServiceDeployment | undefined;
  for (const d of deployments) {
    if (d.status === 'PRIMARY' || d.rolloutState !== 'COMPLETED') continue;
    if (best === undefined || d.createdAt > best.createdAt) best = d;
  }
  return best;
}
