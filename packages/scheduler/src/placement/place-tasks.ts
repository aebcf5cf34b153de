/**
 * Task placement, as ECS does it: which container instances receive the copies of one task.
 *
 *   instances ─▶ filters (filters.ts: status → agent → constraints → ports → CPU → memory) ─▶ strategies
 *   in list order, each breaking the previous one's ties ─▶ instance id ─▶ choose; repeat for the next copy.
 *
 * Pure: the caller passes a snapshot of the cluster and a seed, so the same input always gives the same
 * answer and any decision can be replayed from a log. Copy #k sees the CPU, memory, ports and task groups
 * taken by copies 1..k-1 of the same call (Nomad's "proposed allocations"); committing the result, and
 * re-checking capacity under a lock, is the caller's job.
 *
 * A rejection is a value: every instance that could not take the first unplaced copy is reported with its
 * ECS failure reason, and the whole is summed up in one sentence for RunTask and service events
 * (explanation.ts).
 */
import { describeSuccess, explainFailure } from './explanation.ts';
import { fitsCopy, passesLandingFilters } from './filters.ts';
import type { CandidateInstance, PlacementRequest } from './request.ts';
import { portKey } from './requirements.ts';
import type { Placement, PlacementResult } from './result.ts';
import { type Group, type PlacementCall, Slot } from './slot.ts';
import {
  type Bucket,
  bucketFor,
  compileStrategies,
  mulberry32,
  type Scorer,
  spreadValueReader,
} from './strategies.ts';

export function placeTasks(
  request: PlacementRequest,
  instances: readonly CandidateInstance[],
): PlacementResult {
  const { task } = request;
  const wanted = Number.isFinite(request.count) && request.count > 0 ? Math.floor(request.count) : 0;
  const portKeys = task.ports.map(portKey);
  const call: PlacementCall = {
    task,
    distinct: request.constraints.some((c) => c.type === 'distinctInstance'),
    memberOf: request.constraints.flatMap((c) => (c.type === 'memberOf' ? [c.expression] : [])),
    portKeys,
    duplicatePorts: new Set(portKeys).size !== portKeys.length,
  };
  const { scorers, random, spreadFields } = compileStrategies(request.strategy);

  // Every call reads the whole snapshot, so this loop is most of a small call's cost: no closure or
  // allocation per instance beyond the slot itself.
  const existingGroupTasks = request.existingGroupTasks;
  const sorted = sortById(instances);
  const slots: Slot[] = new Array(sorted.length);
  const bucketTable: Bucket[] = new Array(sorted.length * spreadFields.length);
  for (let order = 0; order < sorted.length; order++) {
    const instance = sorted[order] as CandidateInstance;
    const fromMap = existingGroupTasks?.get(instance.instanceId) ?? 0;
    const groupTasks = Math.max(fromMap, instance.taskGroups.has(task.group) ? 1 : 0);
    const slot = new Slot(instance, order, groupTasks, bucketTable, spreadFields.length);
    slot.blocked = !passesLandingFilters(slot, call);
    slots[order] = slot;
  }
  assignSpreadBuckets(slots, spreadFields);

  const rng = mulberry32(request.seed);
  const placements: Placement[] = [];
  const leadingSpread = scorers[0]?.kind === 'spread';
  const rest = leadingSpread ? scorers.slice(1) : scorers;
  // A later spread over an attribute (say racks across zones) changes counts seen by other groups too.
  const landingStalesAll = rest.some((scorer) => scorer.kind === 'spread' && !scorer.local);
  const groups = groupCandidates(
    slots.filter((slot) => !slot.blocked),
    leadingSpread,
  );
  while (placements.length < wanted) {
    const best = choose(groups, call, scorers, rest, random, rng);
    if (best === undefined) break;
    best.remainingCpu -= task.cpu;
    best.remainingMemory -= task.memory;
    best.placedHere += 1;
    best.groupTasks += 1;
    for (let index = 0; index < best.spreadFields; index++) best.bucket(index).tasks += 1;
    // runningTasksCount stays as given: copies placed here are not running yet.
    if (call.memberOf.length > 0 && !best.target.taskGroups.has(task.group)) {
      best.target = { ...best.target, taskGroups: new Set([...best.target.taskGroups, task.group]) };
    }
    // What the copy took (its ports, its group) may now fail a landing filter here.
    best.blocked = !passesLandingFilters(best, call);
    if (landingStalesAll) for (const group of groups) group.stale = true;
    else if (best.group !== undefined) best.group.stale = true;
    placements.push({ instanceId: best.instance.instanceId, arn: best.instance.arn });
  }

  const unplaced = wanted - placements.length;
  if (unplaced === 0) {
    return { placements, unplaced, failures: [], explanation: describeSuccess(placements) };
  }
  return { placements, unplaced, ...explainFailure(wanted, placements, slots, call) };
}

/** Sets each candidate's `group`. */
function groupCandidates(candidates: readonly Slot[], byLeadingSpread: boolean): Group[] {
  const groups: Group[] = [];
  const byBucket = new Map<Bucket | undefined, Group>();
  for (const slot of candidates) {
    const key = byLeadingSpread ? slot.bucket(0) : undefined;
    let group = byBucket.get(key);
    if (group === undefined) {
      group = { members: [], best: undefined, ties: 0, stale: true };
      byBucket.set(key, group);
      groups.push(group);
    }
    group.members.push(slot);
    slot.group = group;
  }
  return groups;
}

/** Picks the best candidate for one copy; drops groups in which nothing fits any more. */
function choose(
  groups: Group[],
  call: PlacementCall,
  scorers: readonly Scorer[],
  rest: readonly Scorer[],
  random: boolean,
  rng: () => number,
): Slot | undefined {
  let best: Slot | undefined;
  let ties = 0;
  let kept = 0;
  for (const group of groups) {
    if (group.stale) rescan(group, call, rest, random, rng);
    const candidate = group.best;
    if (candidate === undefined) continue;
    groups[kept++] = group;
    if (best === undefined) {
      best = candidate;
      ties = group.ties;
      continue;
    }
    const order = compareForPlacement(candidate, best, scorers);
    if (order < 0 || (order === 0 && !random && candidate.order < best.order)) {
      best = candidate;
      ties = group.ties;
    } else if (order === 0 && random) {
      // Weighted by the group's ties, so every tied instance of the cluster is equally likely.
      ties += group.ties;
      if (rng() * ties < group.ties) best = candidate;
    }
  }
  groups.length = kept;
  return best;
}

/**
 * Finds a group's best member under `rest` (the strategies after the leading spread, or all of them when
 * there is none; the leading one is the same for every member). Resources only shrink
 * within a call and every copy is the same, so a member that cannot take this copy cannot take a later
 * one either: members are compacted away in place.
 */
function rescan(
  group: Group,
  call: PlacementCall,
  rest: readonly Scorer[],
  random: boolean,
  rng: () => number,
): void {
  const { members } = group;
  let best: Slot | undefined;
  let ties = 0;
  let kept = 0;
  for (const slot of members) {
    if (slot.blocked || !fitsCopy(slot, call)) continue;
    members[kept++] = slot;
    if (best === undefined) {
      best = slot;
      ties = 1;
      continue;
    }
    const order = compareForPlacement(slot, best, rest);
    if (order < 0) {
      best = slot;
      ties = 1;
    } else if (order === 0 && random) {
      // Reservoir sampling: a uniform pick among the tied members in one pass, without collecting them.
      ties += 1;
      if (rng() * ties < 1) best = slot;
    }
    // Without random, a tie keeps the earlier member: members stay in instance id order.
  }
  members.length = kept;
  group.best = best;
  group.ties = ties;
  group.stale = false;
}

/** Negative when `a` is the better place for the next copy. */
function compareForPlacement(a: Slot, b: Slot, scorers: readonly Scorer[]): number {
  for (const scorer of scorers) {
    let difference: number;
    if (scorer.kind === 'cpu') difference = a.remainingCpu - b.remainingCpu;
    else if (scorer.kind === 'memory') difference = a.remainingMemory - b.remainingMemory;
    else difference = a.bucket(scorer.index).tasks - b.bucket(scorer.index).tasks;
    if (difference !== 0) return difference;
  }
  return 0;
}

/**
 * Gives each slot, per spread field, the shared bucket of its field value. Instances without the
 * attribute share one bucket of their own. Existing tasks count only on ACTIVE instances: those on
 * DRAINING ones are about to move, and counting them would starve a zone that is being vacated.
 */
function assignSpreadBuckets(slots: readonly Slot[], fields: readonly string[]): void {
  for (let index = 0; index < fields.length; index++) {
    const readValue = spreadValueReader(fields[index] as string);
    const byValue = new Map<string | undefined, Bucket>();
    for (const slot of slots) {
      const bucket = bucketFor(byValue, readValue(slot.instance));
      if (slot.instance.status === 'ACTIVE') bucket.tasks += slot.groupTasks;
      slot.setBucket(index, bucket);
    }
  }
}

/**
 * Code-unit order, not localeCompare: the tie-break must not depend on the machine's locale, and input
 * order must not matter either, or the same snapshot read twice could place differently.
 */
function sortById<T extends { instanceId: string }>(items: readonly T[]): readonly T[] {
  // Snapshots usually come sorted already (read in id order); one pass is cheaper than a sort's copy
  // and its comparator calls.
  let sorted = true;
  for (let i = 1; i < items.length && sorted; i++) {
    sorted = (items[i - 1] as T).instanceId <= (items[i] as T).instanceId;
  }
  if (sorted) return items;
  return [...items].sort((a, b) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0));
}
