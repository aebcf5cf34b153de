/**
 * Placing many RunTask/StartTask calls of one cluster against one snapshot, as Nomad's plan queue
 * does: the calls are planned one after the other, each seeing what the earlier ones took (CPU,
 * memory, ports, task groups), so the whole batch commits under one lock and one re-check instead of
 * each call loading the cluster and then contending for the same least-loaded hosts.
 *
 * Pure, like placeTasks: the same batch over the same snapshot always gives the same answer.
 */
import { placeTasks } from './place-tasks.ts';
import type { CandidateInstance, PlacementRequest } from './request.ts';
import { portKey, type TaskRequirements } from './requirements.ts';
import type { Placement, PlacementFailure } from './result.ts';

/** Tasks not yet STOPPED per instance, per task group (instanceId → group → count). */
export type GroupTasks = ReadonlyMap<string, ReadonlyMap<string, number>>;

export type BatchRequest =
  /** RunTask: `existingGroupTasks` is ignored; it comes from the batch's own running tally. */
  | { kind: 'run'; request: Omit<PlacementRequest, 'existingGroupTasks'> }
  /** StartTask: one copy on each named instance (an instance named twice gets two), no strategy. */
  | { kind: 'start'; task: TaskRequirements; instanceIds: readonly string[] };

export interface BatchResult {
  /** One per placed copy, in order. */
  placements: Placement[];
  failures: PlacementFailure[];
  /** StartTask instances that are not in the snapshot (ECS reports them as MISSING). */
  missingInstanceIds: string[];
  /** placeTasks' sentence for the first failure; empty when everything was placed. */
  explanation: string;
}

/**
 * The instance once `task` has landed on it: what the next request of the batch must see. Its
 * runningTasksCount stays as it is, as in placeTasks: a copy placed here is not running yet.
 */
export function reserveOn(instance: CandidateInstance, task: TaskRequirements): CandidateInstance {
  const usedPorts = new Set(instance.usedPorts);
  for (const port of task.ports) usedPorts.add(portKey(port));
  return {
    ...instance,
    remainingCpu: instance.remainingCpu - task.cpu,
    remainingMemory: instance.remainingMemory - task.memory,
    usedPorts,
    taskGroups: instance.taskGroups.has(task.group)
      ? instance.taskGroups
      : new Set([...instance.taskGroups, task.group]),
  };
}

export function placeBatch(
  requests: readonly BatchRequest[],
  instances: readonly CandidateInstance[],
  groupTasks: GroupTasks,
): BatchResult[] {
  const current = new Map(instances.map((i) => [i.instanceId, i]));
  const tally = new Map<string, Map<string, number>>();
  const countOf = (instanceId: string, group: string) =>
    tally.get(instanceId)?.get(group) ?? groupTasks.get(instanceId)?.get(group) ?? 0;
  const land = (instanceId: string, task: TaskRequirements) => {
    const instance = current.get(instanceId);
    if (instance === undefined) return;
    current.set(instanceId, reserveOn(instance, task));
    let groups = tally.get(instanceId);
    if (groups === undefined) {
      groups = new Map();
      tally.set(instanceId, groups);
    }
    groups.set(task.group, countOf(instanceId, task.group) + 1);
  };

  return requests.map((item): BatchResult => {
    if (item.kind === 'run') {
      const { request } = item;
      const group = request.task.group;
      const existingGroupTasks = new Map<string, number>();
      for (const id of current.keys()) existingGroupTasks.set(id, countOf(id, group));
      const result = placeTasks({ ...request, existingGroupTasks }, [...current.values()]);
      for (const p of result.placements) land(p.instanceId, request.task);
      return {
        placements: result.placements,
        failures: result.failures,
        missingInstanceIds: [],
        explanation: result.unplaced === 0 ? '' : result.explanation,
      };
    }
    const out: BatchResult = { placements: [], failures: [], missingInstanceIds: [], explanation: '' };
    for (const id of item.instanceIds) {
      const instance = current.get(id);
      if (instance === undefined) {
        out.missingInstanceIds.push(id);
        continue;
      }
      const result = placeTasks({ task: item.task, count: 1, constraints: [], strategy: [], seed: 0 }, [
        instance,
      ]);
      const placed = result.placements[0];
      if (placed !== undefined) {
        out.placements.push(placed);
        land(id, item.task);
      } else {
        out.failures.push(...result.failures);
        if (out.explanation === '') out.explanation = result.explanation;
      }
    }
    return out;
  });
}
