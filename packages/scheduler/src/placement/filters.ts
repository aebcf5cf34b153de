/**
 * Placement's filters, the one place a rule about which instance may take a copy lives. Each entry has
 * a `check`, which the fast path in place-tasks.ts runs for every instance of every call, and an
 * `explain`, which words a failed check as ECS does (reason RESOURCE:MEMORY, "has insufficient memory
 * available") and runs only when a copy is left over. Adding a filter is adding an entry here.
 *
 * The order is ECS's (status → agent → constraints → ports → CPU → memory): it is the order failures
 * are listed in and the order ties between equally common reasons are summed up in.
 */
import { evaluateClusterQuery } from '../query/evaluate.ts';
import { formatClusterQuery } from '../query/format.ts';
import { showPort } from './requirements.ts';
import type { PlacementFailureReason } from './result.ts';
import type { PlacementCall, Slot } from './slot.ts';

/** One failed check of one instance, as explained. */
export interface Rejection {
  reason: PlacementFailureReason;
  /** For failures[].detail. */
  detail: string;
  /** Completes "The closest matching (container-instance ID) …". */
  lacking: string;
  /** What the failure sentence groups instances by: the filter's name, or one of its `topics`. */
  topic: string;
}

export interface Filter {
  readonly name: string;
  /**
   * `landing`: the answer changes only when a copy lands on the slot, so it is checked when the slot is
   * made and again after each copy placed there. `copy`: resources, checked for every copy.
   */
  readonly when: 'landing' | 'copy';
  /** True when the slot can take one more copy. */
  readonly check: (slot: Slot, call: PlacementCall) => boolean;
  /** Why a slot that failed `check` cannot take the copy: one rejection or more, in the filter's words. */
  readonly explain: (slot: Slot, call: PlacementCall) => Rejection[];
  /** Set when `explain` words rejections under several topics; the order is the summary's. */
  readonly topics?: readonly string[];
  /** One clause of the failure sentence, for the instances whose first rejection had `topic`. */
  readonly summarize: (topic: string, slots: readonly Slot[], call: PlacementCall) => string;
  /** Failing it means the instance is going away or unreachable, the less useful "closest" answer. */
  readonly unusable?: boolean;
}

export const FILTERS: readonly Filter[] = [
  {
    name: 'status',
    when: 'landing',
    check: (slot) => slot.instance.status === 'ACTIVE',
    explain: ({ instance: { status } }) => [
      {
        reason: status === 'DRAINING' ? 'DRAINING' : 'INACTIVE',
        detail: `container instance is ${status}`,
        lacking: status === 'DRAINING' ? 'is draining' : `is ${status}`,
        topic: status,
      },
    ],
    topics: ['INACTIVE', 'REGISTERING', 'DEREGISTERING', 'DRAINING'],
    summarize: (topic, slots) => `${slots.length} ${topic.toLowerCase()}`,
    unusable: true,
  },
  {
    name: 'agent',
    when: 'landing',
    check: (slot) => slot.instance.agentConnected,
    explain: () => [
      {
        reason: 'AGENT',
        detail: 'agent is disconnected',
        lacking: 'has its agent disconnected',
        topic: 'agent',
      },
    ],
    summarize: (_, slots) => `${slots.length} ${slots.length === 1 ? 'agent' : 'agents'} disconnected`,
    unusable: true,
  },
  {
    name: 'distinctInstance',
    when: 'landing',
    check: (slot, call) => !call.distinct || slot.groupTasks === 0,
    explain: (_, { task }) => [
      {
        reason: 'ATTRIBUTE',
        detail: `already runs a task of group ${task.group} (distinctInstance)`,
        lacking: `already runs a task of group ${task.group}`,
        topic: 'distinctInstance',
      },
    ],
    summarize: (_, slots, { task }) =>
      `${slots.length} already ran a task of group ${task.group} (distinctInstance)`,
  },
  {
    name: 'memberOf',
    when: 'landing',
    check: (slot, call) => {
      for (const expression of call.memberOf)
        if (!evaluateClusterQuery(expression, slot.target)) return false;
      return true;
    },
    explain: (slot, call) =>
      call.memberOf
        .filter((expression) => !evaluateClusterQuery(expression, slot.target))
        .map((expression) => ({
          reason: 'ATTRIBUTE',
          detail: `does not match memberOf(${formatClusterQuery(expression)})`,
          lacking: 'is missing an attribute required by your task',
          topic: 'memberOf',
        })),
    summarize: (_, slots, call) =>
      `${slots.length} did not match ${call.memberOf.length === 1 ? 'the memberOf constraint' : 'the memberOf constraints'}`,
  },
  {
    name: 'ports',
    when: 'landing',
    check: (slot, call) => {
      if (call.duplicatePorts) return false;
      if (call.portKeys.length > 0 && slot.placedHere > 0) return false;
      for (const key of call.portKeys) if (slot.instance.usedPorts.has(key)) return false;
      return true;
    },
    explain: (slot, call) => {
      const problems: string[] = [];
      if (call.duplicatePorts) problems.push('the task requests the same host port twice');
      const inUse = call.portKeys.filter((key) => slot.instance.usedPorts.has(key));
      if (inUse.length > 0) problems.push(`port ${inUse.map(showPort).join(', ')} in use`);
      if (slot.placedHere > 0 && call.portKeys.length > 0) {
        problems.push(`port ${call.portKeys.map(showPort).join(', ')} taken by a copy placed in this call`);
      }
      return [
        {
          reason: 'RESOURCE:PORTS',
          detail: problems.join('; '),
          lacking: 'is already using a port required by your task',
          topic: 'ports',
        },
      ];
    },
    summarize: (_, slots, call) => {
      if (call.duplicatePorts) return `${slots.length} could not bind the same host port twice`;
      const ports = new Set<string>();
      for (const slot of slots) {
        for (const key of call.portKeys) {
          if (slot.instance.usedPorts.has(key) || slot.placedHere > 0) ports.add(showPort(key));
        }
      }
      return `${slots.length} had port ${[...ports].join(', ')} in use`;
    },
  },
  {
    name: 'cpu',
    when: 'copy',
    // Written as "not less than" so that a capacity that is not a number fits, as it always has.
    check: (slot, call) => !(slot.remainingCpu < call.task.cpu),
    explain: (slot, { task }) => [
      {
        reason: 'RESOURCE:CPU',
        detail: `needs ${task.cpu} CPU units, ${slot.remainingCpu} free`,
        lacking: 'has insufficient CPU units available',
        topic: 'cpu',
      },
    ],
    summarize: (_, slots, { task }) => {
      const most = maxBy(slots, (s) => s.remainingCpu);
      return `${slots.length} lacked CPU (needs ${task.cpu} units, most free ${most.remainingCpu} on ${most.instance.instanceId})`;
    },
  },
  {
    name: 'memory',
    when: 'copy',
    check: (slot, call) => !(slot.remainingMemory < call.task.memory),
    explain: (slot, { task }) => [
      {
        reason: 'RESOURCE:MEMORY',
        detail: `needs ${task.memory} MiB, ${slot.remainingMemory} MiB free`,
        lacking: 'has insufficient memory available',
        topic: 'memory',
      },
    ],
    summarize: (_, slots, { task }) => {
      const most = maxBy(slots, (s) => s.remainingMemory);
      return `${slots.length} lacked memory (needs ${task.memory} MiB, most free ${most.remainingMemory} MiB on ${most.instance.instanceId})`;
    },
  },
];

/** First of the maxima, so the lowest id among equals. `items` is never empty here. */
function maxBy<T>(items: readonly T[], key: (item: T) => number): T {
  let best = items[0] as T;
  for (const item of items) if (key(item) > key(best)) best = item;
  return best;
}

type Check = Filter['check'];
const pass: Check = () => true;

/**
 * The checks of one kind, in table order, for the fast path's fixed positions. V8's call feedback has
 * no polymorphic state: a call site that has called two different functions is megamorphic and inlines
 * neither. A loop over the table's checks is one such site, and placed at under half the speed of the
 * checks written inline (bench/placement.ts, one call of 10,000 copies); so each position below is a
 * call site of its own that only ever calls one check (or `pass`), and V8 inlines it. No code is generated.
 */
function checksOf(when: Filter['when'], positions: number): Check[] {
  const checks = FILTERS.filter((filter) => filter.when === when).map((filter) => filter.check);
  if (checks.length > positions) {
    throw new Error(`placement: more than ${positions} '${when}' filters; add positions in filters.ts`);
  }
  return checks;
}

const [landing0 = pass, landing1 = pass, landing2 = pass, landing3 = pass, landing4 = pass, landing5 = pass] =
  checksOf('landing', 6);
const [copy0 = pass, copy1 = pass, copy2 = pass, copy3 = pass] = checksOf('copy', 4);

/** Whether the slot passes every `landing` filter: when it is made, and after a copy lands on it. */
export function passesLandingFilters(slot: Slot, call: PlacementCall): boolean {
  return (
    landing0(slot, call) &&
    landing1(slot, call) &&
    landing2(slot, call) &&
    landing3(slot, call) &&
    landing4(slot, call) &&
    landing5(slot, call)
  );
}

/** Whether the slot has the resources for one more copy. */
export function fitsCopy(slot: Slot, call: PlacementCall): boolean {
  return copy0(slot, call) && copy1(slot, call) && copy2(slot, call) && copy3(slot, call);
}

/** A rejection with the filter that made it. */
export interface Diagnosis extends Rejection {
  filter: Filter;
}

/** Every check the slot fails for one more copy, in filter order. Runs only when a copy is left over. */
export function diagnose(slot: Slot, call: PlacementCall): Diagnosis[] {
  const out: Diagnosis[] = [];
  for (const filter of FILTERS) {
    if (filter.check(slot, call)) continue;
    for (const rejection of filter.explain(slot, call)) out.push({ ...rejection, filter });
  }
  return out;
}
