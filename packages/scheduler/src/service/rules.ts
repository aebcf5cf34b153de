/** The service scheduler's constants and small rules: defaults, floor and ceiling, breaker, throttle. */
import type { PlacementStrategy } from '../placement/request.ts';
import { rolloutInProgressReason } from './events.ts';
import { finiteOr } from './helpers.ts';
import type {
  DeploymentCircuitBreaker,
  DeploymentTaskDefinition,
  LaunchRecord,
  ReconcileServiceInput,
  ServiceDeployment,
  ServiceSpec,
} from './input.ts';

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
