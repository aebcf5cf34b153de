/** The deployments after the decision: counts, COMPLETED, drained ones removed, rollback targets kept. */
import { taskStatusRank } from '@bosun/model';
import { deploymentCompletedEvent, rolloutCompletedReason, steadyStateEvent } from './events.ts';
import { rollbackTarget } from './failures.ts';
import type { ReconcileServiceInput, ServiceDeployment, ServiceTask } from './input.ts';
import type { Live, Plan } from './plan.ts';
import type { ResolvedDeploymentConfiguration } from './rules.ts';

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
export function settleDeployments(s: SettleInput): SettleOutput {
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
