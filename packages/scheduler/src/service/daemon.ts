/** DAEMON services: one task per eligible instance, replaced in place within the floor and ceiling. */
import { placeTasks } from '../placement/place-tasks.ts';
import type { CandidateInstance, PlacementConstraint } from '../placement/request.ts';
import { evaluateClusterQuery } from '../query/evaluate.ts';
import type { StopCause } from './decision.ts';
import {
  CONSTRAINTS_REASON,
  DRAINING_REASON,
  FAILED_HEALTH_CHECKS_REASON,
  INSTANCE_LOST_REASON,
  scalingActivityReason,
} from './events.ts';
import { compareIds, subSeed } from './helpers.ts';
import type { Live, MoveContext } from './plan.ts';
import { start } from './replica.ts';
import { healthyFloor } from './rules.ts';

/** ACTIVE, connected, not lost, and matching every memberOf constraint; in instance id order. */
export function daemonEligible(
  instances: readonly CandidateInstance[],
  constraints: readonly PlacementConstraint[],
  lostIds: ReadonlySet<string>,
): CandidateInstance[] {
  return instances
    .filter(
      (i) =>
        i.status === 'ACTIVE' &&
        i.agentConnected &&
        !lostIds.has(i.instanceId) &&
        constraints.every((c) => c.type !== 'memberOf' || evaluateClusterQuery(c.expression, i)),
    )
    .sort((a, b) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0));
}

/**
 * One PRIMARY task per eligible instance. Per instance at most max(1, ⌊maximumPercent/100⌋) live tasks,
 * so with the default 100 % the old task stops before its replacement starts; healthy old tasks stop
 * only while the healthy count stays at the floor (default 0 %). Tasks on instances that stop being
 * eligible go: at once when the instance no longer meets the constraints, and on a DRAINING instance once
 * the daemon's tasks are the last ones there (ECS drains daemons last).
 */
export function moveDaemon(c: MoveContext, eligible: readonly CandidateInstance[]): boolean {
  const { plan, primary, desiredCount, config } = c;
  const scaling = scalingActivityReason(primary.id);
  const floor = healthyFloor(desiredCount, config.minimumHealthyPercent);
  const perInstance = Math.max(1, Math.floor(config.maximumPercent / 100 + 1e-9));
  const frozen = primary.rolloutState === 'FAILED';
  const eligibleIds = new Set(eligible.map((i) => i.instanceId));
  let healthy = c.live.filter((l) => !l.gone && l.healthy).length;
  const stop = (l: Live, cause: StopCause, reason: string): void => {
    if (plan.stopped.has(l.task.id)) return;
    if (l.healthy) healthy -= 1;
    plan.stop(l, cause, reason);
  };

  const onInstance = new Map<string, Live[]>();
  for (const l of c.live) {
    const list = onInstance.get(l.task.instanceId) ?? [];
    list.push(l);
    onInstance.set(l.task.instanceId, list);
  }

  for (const l of c.live) {
    if (l.gone) stop(l, 'instance-lost', INSTANCE_LOST_REASON);
    else if (eligibleIds.has(l.task.instanceId) || l.instance === undefined || !l.instance.agentConnected)
      continue;
    else if (l.draining) {
      const ours = onInstance.get(l.task.instanceId)?.length ?? 0;
      if (l.instance.runningTasksCount <= ours || !l.running) stop(l, 'draining', DRAINING_REASON);
    } else if (l.instance.status === 'ACTIVE') stop(l, 'constraints', CONSTRAINTS_REASON);
  }

  interface Slot {
    instance: CandidateInstance;
    keeper: Live | undefined;
    old: Live[];
  }
  const slots: Slot[] = [];
  for (const instance of eligible) {
    const here = onInstance.get(instance.instanceId) ?? [];
    const mine = here.filter((l) => l.deployment === primary);
    for (const l of mine) if (l.unhealthy) stop(l, 'unhealthy', FAILED_HEALTH_CHECKS_REASON);
    const keepers = mine
      .filter((l) => !l.unhealthy)
      .sort(
        (a, b) =>
          Number(b.healthy) - Number(a.healthy) ||
          Number(b.running) - Number(a.running) ||
          a.task.createdAt - b.task.createdAt ||
          compareIds(a.task.id, b.task.id),
      );
    for (const extra of keepers.slice(1)) stop(extra, 'scale-in', scaling);
    const old = frozen ? [] : here.filter((l) => l.deployment !== primary);
    for (const l of old) if (!l.healthy) stop(l, 'deployment', scaling);
    slots.push({ instance, keeper: keepers[0], old: old.filter((l) => l.healthy) });
  }

  // Healthy old tasks, as the floor allows: first where the new task is already healthy, then running.
  const weight = (s: Slot): number => (s.keeper === undefined ? 2 : s.keeper.healthy ? 0 : 1);
  const ordered = [...slots].sort(
    (a, b) => weight(a) - weight(b) || compareIds(a.instance.instanceId, b.instance.instanceId),
  );
  let blockedByFloor = 0;
  for (const slot of ordered) {
    for (const l of slot.old) {
      if (healthy - 1 >= floor) stop(l, 'deployment', scaling);
      else blockedByFloor += 1;
    }
  }

  // Starts: every eligible instance without a PRIMARY task, where the per-instance ceiling allows.
  let placed = 0;
  let blockedByCeiling = 0;
  for (const slot of slots) {
    if (slot.keeper !== undefined || !c.launchAllowed) continue;
    const here = onInstance.get(slot.instance.instanceId) ?? [];
    const remaining = here.filter((l) => !plan.stopped.has(l.task.id)).length;
    if (remaining >= perInstance) {
      blockedByCeiling += 1;
      continue;
    }
    const [taskId] = plan.takeIds(1);
    if (taskId === undefined) break;
    const instance = c.view.get(slot.instance.instanceId) ?? slot.instance;
    const result = placeTasks(
      {
        task: primary.taskDefinition.requirements,
        count: 1,
        constraints: c.input.service.placementConstraints.filter((x) => x.type === 'memberOf'),
        strategy: [],
        seed: subSeed(c.seed, 2),
      },
      [instance],
    );
    const placement = result.placements[0];
    if (placement === undefined) {
      // Its old task is still stopping and holds the resources: wait for it instead of complaining.
      const waiting =
        here.length > 0 ||
        c.input.tasks.some(
          (t) =>
            t.instanceId === slot.instance.instanceId &&
            t.lastStatus !== 'STOPPED' &&
            t.desiredStatus === 'STOPPED',
        );
      c.plan.failedPlacement(result, waiting);
      continue;
    }
    c.view.take(placement.instanceId, primary.taskDefinition.requirements);
    plan.places.push(start(taskId, primary, placement.instanceId, placement.arn));
    placed += 1;
  }

  const inFlight =
    c.stoppingCount > 0 || c.live.some((l) => !l.running && !plan.stopped.has(l.task.id)) || placed > 0;
  return (
    !frozen &&
    desiredCount > 0 &&
    c.launchAllowed &&
    plan.stops.length === 0 &&
    !inFlight &&
    blockedByFloor > 0 &&
    blockedByCeiling > 0
  );
}
