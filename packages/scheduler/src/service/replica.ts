/** REPLICA services: ECS's rolling update, replacements and strategy-aware scale-in. */
import { placeTasks } from '../placement/place-tasks.ts';
import type { PlacementStrategy } from '../placement/request.ts';
import { chooseTasksToStop, type RunningTaskRef } from '../placement/scale-in.ts';
import type { TaskToStart } from './decision.ts';
import {
  DRAINING_REASON,
  FAILED_HEALTH_CHECKS_REASON,
  INSTANCE_LOST_REASON,
  scalingActivityReason,
} from './events.ts';
import { subSeed } from './helpers.ts';
import type { ServiceDeployment, ServiceSpec } from './input.ts';
import type { Live, MoveContext, Retiree } from './plan.ts';
import { DEFAULT_SERVICE_PLACEMENT_STRATEGY, healthyFloor, taskCeiling } from './rules.ts';

/**
 * ECS's rolling update, which also covers replacements and scale-in:
 * - keepers are the PRIMARY's tasks that stay (not unhealthy, not on a draining or lost instance), at most
 *   desiredCount of them; everything else live is a retiree;
 * - retirees that are not healthy go at once; healthy ones go while the healthy count stays at or above
 *   the floor (oldest deployment first, then drained, then surplus), chosen strategy-aware;
 * - new PRIMARY tasks start up to desiredCount keepers, within the ceiling of live tasks;
 * - an UNHEALTHY task is replaced first when the ceiling allows, and stopped once its replacement is
 *   healthy; when the ceiling leaves no room it is stopped first.
 * Returns true when the configuration allows no move at all (the 100/100 deadlock).
 */
export function moveReplica(c: MoveContext): boolean {
  const { plan, primary, desiredCount, config } = c;
  const scaling = scalingActivityReason(primary.id);
  const floor = healthyFloor(desiredCount, config.minimumHealthyPercent);
  const ceiling = taskCeiling(desiredCount, config.maximumPercent);
  const frozen = primary.rolloutState === 'FAILED';

  const keepers: Live[] = [];
  const retirees: Retiree[] = [];
  for (const l of c.live) {
    if (l.gone) {
      // A running task of a silent host may still be serving: it goes once its replacement is in.
      if (l.lost && l.running && !frozen) retirees.push({ live: l, kind: 'lost' });
      else plan.stop(l, 'instance-lost', INSTANCE_LOST_REASON);
    } else if (l.deployment !== primary) {
      // A failed deployment without rollback launches nothing and leaves the old tasks where they are.
      if (!frozen) retirees.push({ live: l, kind: 'old' });
    } else if (l.draining) {
      if (!l.running) plan.stop(l, 'draining', DRAINING_REASON);
      else retirees.push({ live: l, kind: 'draining' });
    } else if (l.unhealthy) {
      retirees.push({ live: l, kind: 'unhealthy' });
    } else {
      keepers.push(l);
    }
  }

  // Scale-in: the surplus keepers, not yet running first, then not yet healthy, then strategy-aware.
  if (keepers.length > desiredCount) {
    const surplus = chooseStops(c, keepers, keepers.length - desiredCount, 1);
    for (const l of surplus) {
      keepers.splice(keepers.indexOf(l), 1);
      retirees.push({ live: l, kind: 'surplus' });
    }
  }

  let healthy = c.live.filter((l) => !l.gone && l.healthy).length;
  const stopRetiree = (r: Retiree): void => {
    if (r.live.healthy && !r.live.gone) healthy -= 1;
    if (r.kind === 'lost') plan.stop(r.live, 'instance-lost', INSTANCE_LOST_REASON);
    else if (r.kind === 'draining') plan.stop(r.live, 'draining', DRAINING_REASON);
    else if (r.kind === 'unhealthy') plan.stop(r.live, 'unhealthy', FAILED_HEALTH_CHECKS_REASON);
    else plan.stop(r.live, r.kind === 'surplus' ? 'scale-in' : 'deployment', scaling);
  };

  // Unhealthy tasks and the tasks of a lost host are replaced first, then stopped (below): stopping a
  // lost host's tasks at once, as bosun did, dropped a service to nothing while its replacements
  // were still being pulled.
  const replaceFirst = (r: Retiree): boolean => r.kind === 'unhealthy' || r.kind === 'lost';
  // Retirees that do not count as healthy cost nothing to stop.
  for (const r of retirees) if (!replaceFirst(r) && !r.live.healthy) stopRetiree(r);

  // Healthy retirees, as the floor allows.
  const healthyRetirees = orderHealthyRetirees(
    c,
    retirees.filter((r) => !replaceFirst(r) && r.live.healthy),
  );
  let blockedByFloor = 0;
  for (const r of healthyRetirees) {
    if (healthy - 1 >= floor) stopRetiree(r);
    else blockedByFloor += 1;
  }

  // Starts, within the ceiling.
  const liveCount = (): number =>
    keepers.length + retirees.filter((r) => !plan.stopped.has(r.live.task.id)).length;
  const unhealthy = retirees.filter(replaceFirst);
  let starts = c.launchAllowed
    ? Math.max(0, Math.min(desiredCount - keepers.length, ceiling - liveCount()))
    : 0;
  let shortfall = desiredCount - keepers.length - starts;
  for (const r of unhealthy) {
    if (!c.launchAllowed) {
      stopRetiree(r); // nothing will replace it: no reason to keep a failed task
    } else if (shortfall > 0) {
      // No room to start its replacement first: stop it, and start the replacement now.
      stopRetiree(r);
      const room = ceiling - liveCount() - starts;
      if (room > 0) {
        starts += 1;
        shortfall -= 1;
      }
    }
  }
  // Replacements are in: the unhealthy and lost ones they replaced can go.
  const healthyKeepers = keepers.filter((l) => l.healthy).length;
  if (healthyKeepers >= desiredCount) for (const r of unhealthy) stopRetiree(r);

  const placed = starts > 0 ? placeFor(c, primary, starts, keepers) : 0;
  // A lost host's task whose replacement fits nowhere is not kept forever on the strength of a host
  // that may never return: it is stopped, as before, and its replacement waits for capacity.
  let unplaced = starts - placed;
  for (const r of unhealthy) {
    if (unplaced <= 0) break;
    if (r.kind === 'lost' && !plan.stopped.has(r.live.task.id)) {
      stopRetiree(r);
      unplaced -= 1;
    }
  }

  const inFlight =
    c.stoppingCount > 0 || c.live.some((l) => !l.running && !plan.stopped.has(l.task.id)) || placed > 0;
  const moved = plan.stops.length > 0 || placed > 0;
  if (frozen) return false;
  return (
    desiredCount > 0 &&
    !moved &&
    !inFlight &&
    c.launchAllowed &&
    blockedByFloor > 0 &&
    ceiling - liveCount() <= 0
  );
}

/**
 * Orders healthy retirees for stopping: the oldest deployment first, then tasks on draining instances,
 * then surplus PRIMARY tasks; within each group the placement strategy decides (chooseTasksToStop), so
 * that what remains stays spread.
 */
function orderHealthyRetirees(c: MoveContext, retirees: readonly Retiree[]): Retiree[] {
  const groups = new Map<string, Retiree[]>();
  const rank = (r: Retiree): string => {
    if (r.kind === 'old') {
      const created = r.live.deployment?.createdAt ?? Number.NEGATIVE_INFINITY;
      return `0:${String(created).padStart(20, '0')}:${r.live.task.deploymentId}`;
    }
    return r.kind === 'draining' ? '1' : '2';
  };
  for (const r of retirees) {
    const key = rank(r);
    const list = groups.get(key) ?? [];
    list.push(r);
    groups.set(key, list);
  }
  const ordered: Retiree[] = [];
  const keys = [...groups.keys()].sort();
  for (const [index, key] of keys.entries()) {
    const group = groups.get(key) ?? [];
    const byId = new Map(group.map((r) => [r.live.task.id, r]));
    const order = chooseStops(
      c,
      group.map((r) => r.live),
      group.length,
      11 + index,
    );
    for (const l of order) {
      const r = byId.get(l.task.id);
      if (r !== undefined) ordered.push(r);
    }
  }
  return ordered;
}

/**
 * Picks `count` tasks to stop: not running first, then running but not healthy, then healthy, each tier
 * strategy-aware (spread takes from the fullest zone/instance, binpack empties the emptiest host).
 */
function chooseStops(c: MoveContext, tasks: readonly Live[], count: number, salt: number): Live[] {
  const tiers = [
    tasks.filter((l) => !l.running),
    tasks.filter((l) => l.running && !l.healthy),
    tasks.filter((l) => l.healthy),
  ];
  const strategy = replicaStrategy(c.input.service);
  const instances = c.view.all();
  const chosen: Live[] = [];
  tiers.forEach((tier, index) => {
    const left = count - chosen.length;
    if (left <= 0 || tier.length === 0) return;
    const byId = new Map(tier.map((l) => [l.task.id, l]));
    const refs: RunningTaskRef[] = tier.map((l) => ({
      taskId: l.task.id,
      instanceId: l.task.instanceId,
      cpu: l.deployment?.taskDefinition.requirements.cpu ?? 0,
      memory: l.deployment?.taskDefinition.requirements.memory ?? 0,
    }));
    const ids = chooseTasksToStop(
      { count: left, strategy, seed: subSeed(c.seed, salt * 4 + index) },
      refs,
      instances,
    );
    for (const id of ids) {
      const l = byId.get(id);
      if (l !== undefined) chosen.push(l);
    }
  });
  return chosen;
}

/** Places `count` new tasks of a deployment; returns how many found an instance. */
function placeFor(
  c: MoveContext,
  deployment: ServiceDeployment,
  count: number,
  keepers: readonly Live[],
): number {
  const ids = c.plan.takeIds(count);
  if (ids.length === 0) return 0;
  const requirements = deployment.taskDefinition.requirements;
  const existing = new Map<string, number>();
  for (const l of keepers) existing.set(l.task.instanceId, (existing.get(l.task.instanceId) ?? 0) + 1);
  const result = placeTasks(
    {
      task: requirements,
      count: ids.length,
      constraints: c.input.service.placementConstraints,
      strategy: replicaStrategy(c.input.service),
      seed: subSeed(c.seed, 1),
      existingGroupTasks: existing,
    },
    c.view.all(),
  );
  result.placements.forEach((placement, i) => {
    const taskId = ids[i];
    if (taskId === undefined) return;
    c.view.take(placement.instanceId, requirements);
    c.plan.places.push(start(taskId, deployment, placement.instanceId, placement.arn));
  });
  if (result.unplaced > 0) c.plan.failedPlacement(result, c.stoppingCount > 0 || c.plan.stops.length > 0);
  return result.placements.length;
}

function replicaStrategy(service: ServiceSpec): readonly PlacementStrategy[] {
  if (service.schedulingStrategy === 'DAEMON') return [];
  return service.placementStrategy.length === 0
    ? DEFAULT_SERVICE_PLACEMENT_STRATEGY
    : service.placementStrategy;
}

export const start = (
  taskId: string,
  d: ServiceDeployment,
  instanceId: string,
  instanceArn: string,
): TaskToStart => ({
  taskId,
  deploymentId: d.id,
  taskDefinitionArn: d.taskDefinition.arn,
  instanceId,
  instanceArn,
  group: d.taskDefinition.requirements.group,
  startedBy: d.id,
});
