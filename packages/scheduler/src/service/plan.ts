/** The state one evaluation builds up: live tasks, the plan of stops and starts, the shrinking cluster. */
import { reserveOn } from '../placement/batch.ts';
import type { CandidateInstance } from '../placement/request.ts';
import type { TaskRequirements } from '../placement/requirements.ts';
import type { PlacementFailure, PlacementResult } from '../placement/result.ts';
import type { StopCause, TaskToStart, TaskToStop } from './decision.ts';
import { failedHealthChecksEvent, unableToPlaceEvent } from './events.ts';
import type { ReconcileServiceInput, ServiceDeployment, ServiceTask } from './input.ts';
import { PLACEMENT_RETRY_MS, type ResolvedDeploymentConfiguration } from './rules.ts';

/** A task that is neither STOPPED nor being stopped, as the scheduler sees it. */
export interface Live {
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
  /** Gone because its agent is silent (the instance is still registered): the task may still run. */
  lost: boolean;
  draining: boolean;
}

type RetireKind = 'old' | 'draining' | 'surplus' | 'unhealthy' | 'lost';

export interface Retiree {
  live: Live;
  kind: RetireKind;
}

export class Plan {
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
export class ClusterView {
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
    if (instance !== undefined) this.byId.set(instanceId, reserveOn(instance, task));
  }
}

export interface MoveContext {
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
