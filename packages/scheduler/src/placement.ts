/**
 * Task placement, as ECS does it: which container instances receive the copies of one task.
 *
 *   instances ─▶ filters (status → agent → constraints → ports → CPU → memory) ─▶ strategies in list
 *   order, each breaking the previous one's ties ─▶ instance id ─▶ choose; repeat for the next copy.
 *
 * Pure: the caller passes a snapshot of the cluster and a seed, so the same input always gives the same
 * answer and any decision can be replayed from a log. Copy #k sees the CPU, memory, ports and task groups
 * taken by copies 1..k-1 of the same call (Nomad's "proposed allocations"); committing the result, and
 * re-checking capacity under a lock, is the caller's job.
 *
 * A rejection is a value: every instance that could not take the first unplaced copy is reported with its
 * ECS failure reason, and the whole is summed up in one sentence for RunTask and service events.
 */
import {
  evaluateClusterQuery,
  formatClusterQuery,
  type QueryAst,
  type QueryTarget,
} from './query-language.ts';

export type ContainerInstanceStatus = 'ACTIVE' | 'DRAINING' | 'INACTIVE' | 'REGISTERING' | 'DEREGISTERING';

/** A static host port. Dynamic ports (hostPort 0 in bridge mode) are chosen by Docker and need no placement. */
export interface PortRequest {
  hostPort: number;
  protocol: 'tcp' | 'udp';
}

export interface TaskRequirements {
  /** CPU units reserved (task-level cpu, else the sum of the containers' cpu). */
  cpu: number;
  /** MiB reserved (task-level memory, else per container memoryReservation if set, else memory). */
  memory: number;
  ports: readonly PortRequest[];
  /** ECS task group, e.g. `family:web` or `service:web`. */
  group: string;
}

export interface CandidateInstance extends QueryTarget {
  /** Container instance ARN, reported in failures[]. */
  arn: string;
  status: ContainerInstanceStatus;
  remainingCpu: number;
  remainingMemory: number;
  /** `tcp:8080`, `udp:53`; includes the reserved ports (22, the agent's own). */
  usedPorts: ReadonlySet<string>;
}

export type PlacementConstraint = { type: 'distinctInstance' } | { type: 'memberOf'; expression: QueryAst };

/** `host` is the same as `instanceId`, as in ECS. */
export type SpreadField = 'instanceId' | 'host' | `attribute:${string}`;

export type PlacementStrategy =
  | { type: 'binpack'; field: 'cpu' | 'memory' }
  | { type: 'spread'; field: SpreadField }
  | { type: 'random' };

export interface PlacementRequest {
  task: TaskRequirements;
  count: number;
  constraints: readonly PlacementConstraint[];
  /** Empty means no preference: the lowest instance id wins. Service defaults are the caller's to add. */
  strategy: readonly PlacementStrategy[];
  /** Seeds the `random` strategy; taken as an unsigned 32-bit integer. */
  seed: number;
  /**
   * Tasks of `task.group` already on each instance (instanceId → count), for spread and distinctInstance.
   * An instance whose `taskGroups` holds the group counts at least one even when absent here.
   */
  existingGroupTasks?: ReadonlyMap<string, number>;
}

/** The ECS failure reasons placement can produce (MISSING and RESOURCE:GPU come from elsewhere). */
export type PlacementFailureReason =
  | 'INACTIVE'
  | 'DRAINING'
  | 'AGENT'
  | 'ATTRIBUTE'
  | 'RESOURCE:PORTS'
  | 'RESOURCE:CPU'
  | 'RESOURCE:MEMORY';

export interface PlacementFailure {
  arn: string;
  reason: PlacementFailureReason;
  detail: string;
}

export interface Placement {
  instanceId: string;
  arn: string;
}

export interface ClosestInstance {
  instanceId: string;
  arn: string;
  /** Every check it failed, in filter order. */
  reasons: PlacementFailureReason[];
  /**
   * Completes "The closest matching (container-instance ID) …" in the ECS service event, e.g.
   * "has insufficient memory available".
   */
  lacking: string;
}

export interface PlacementResult {
  /** One per placed copy, in order. */
  placements: Placement[];
  unplaced: number;
  /** For the first unplaced copy: each instance that rejected it and why (ECS failures[]); empty when all fit. */
  failures: PlacementFailure[];
  /** One sentence for the RunTask failure detail and the service event. */
  explanation: string;
  /** The instance that failed the fewest checks for the first unplaced copy. */
  closest?: ClosestInstance;
}

// ---------------------------------------------------------------------------------------------------
// Requirements of a task definition

export interface ContainerReservation {
  cpu?: number;
  memory?: number;
  memoryReservation?: number;
  portMappings?: readonly { containerPort?: number; hostPort?: number; protocol?: 'tcp' | 'udp' }[];
}

export interface TaskReservationInput {
  /** Task-level values, already converted to CPU units and MiB. */
  cpu?: number;
  memory?: number;
  networkMode?: 'bridge' | 'host' | 'none' | 'awsvpc';
  containerDefinitions: readonly ContainerReservation[];
}

/**
 * What a task reserves on an instance. Apply RunTask containerOverrides to the definitions first.
 * Duplicate host ports are kept on purpose: such a task cannot start anywhere, and placement says so
 * instead of binding one port twice.
 */
export function taskRequirements(task: TaskReservationInput, group: string): TaskRequirements {
  let cpu = 0;
  let memory = 0;
  const ports: PortRequest[] = [];
  const mode = task.networkMode ?? 'bridge';
  for (const container of task.containerDefinitions) {
    cpu += container.cpu ?? 0;
    // The soft limit is what ECS reserves: a container may burst up to its hard limit when memory is free.
    memory += container.memoryReservation ?? container.memory ?? 0;
    // awsvpc and none give the task its own network namespace, so nothing is bound on the host.
    if (mode !== 'bridge' && mode !== 'host') continue;
    for (const mapping of container.portMappings ?? []) {
      const hostPort =
        mode === 'host' ? (mapping.hostPort ?? mapping.containerPort ?? 0) : (mapping.hostPort ?? 0);
      if (hostPort > 0) ports.push({ hostPort, protocol: mapping.protocol ?? 'tcp' });
    }
  }
  return { cpu: task.cpu ?? cpu, memory: task.memory ?? memory, ports, group };
}

// ---------------------------------------------------------------------------------------------------
// Placement

/** Tasks of the group on all instances sharing one value of a spread field. */
interface Bucket {
  tasks: number;
}

/**
 * One instance as this call sees it. A class, not an object literal: V8 may pretenure a literal's
 * allocation site — allocate it straight in the old generation — once it sees every object from the
 * site alive at one young-generation collection, which happens when that collection falls inside a
 * call (all of the call's slots are alive then). From then on each call left ~1,000 slots of garbage
 * in the old generation, and placement ran at a third of its speed in about a third of processes,
 * busy with major collections. `new` of a class has no allocation site, so it is never pretenured.
 */
class Slot {
  /** What memberOf sees: the instance itself until a copy adds this call's group to its task groups. */
  target: QueryTarget;
  remainingCpu: number;
  remainingMemory: number;
  placedHere = 0;
  /** The candidate group the slot is in (groupCandidates); undefined while it is not a candidate. */
  group: Group | undefined = undefined;
  /** Where this slot's buckets start in the call's bucket table. */
  readonly #base: number;

  constructor(
    readonly instance: CandidateInstance,
    /** Position in instance id order: the last tie-break. */
    readonly order: number,
    /** Tasks of the group on the instance, existing plus placed in this call. */
    public groupTasks: number,
    /** Fails a check that no later copy can pass either; resources are checked per copy. */
    public blocked: boolean,
    /**
     * The call's buckets, `spreadFields` per slot in slot order: one per spread strategy, in strategy
     * order, shared by all slots with the same field value. One array per call, not one per slot.
     */
    readonly table: Bucket[],
    readonly spreadFields: number,
  ) {
    this.target = instance;
    this.remainingCpu = instance.remainingCpu;
    this.remainingMemory = instance.remainingMemory;
    this.#base = order * spreadFields;
  }

  bucket(index: number): Bucket {
    const bucket = this.table[this.#base + index];
    if (bucket === undefined) throw new Error(`placement: no spread bucket ${index}`);
    return bucket;
  }

  setBucket(index: number, bucket: Bucket): void {
    this.table[this.#base + index] = bucket;
  }
}

/** `local`: the field's value is the instance itself, so a copy changes the count of that instance only. */
type Scorer = { kind: 'cpu' } | { kind: 'memory' } | { kind: 'spread'; index: number; local: boolean };

/**
 * Candidates sharing one value of the leading spread field (all candidates in one group when the first
 * strategy is not a spread). That value's task count is the same for every member, so a group's best
 * member under the other strategies only changes when a copy lands in the group — or anywhere, when a
 * later strategy spreads over an attribute. Caching it makes a copy cost one group's scan instead of the
 * whole cluster's: with spread over three zones, a third.
 */
interface Group {
  readonly members: Slot[];
  best: Slot | undefined;
  /** Members tied with `best`, so that random picks uniformly across groups too. */
  ties: number;
  stale: boolean;
}

export function placeTasks(
  request: PlacementRequest,
  instances: readonly CandidateInstance[],
): PlacementResult {
  const { task } = request;
  const wanted = Number.isFinite(request.count) && request.count > 0 ? Math.floor(request.count) : 0;
  const distinct = request.constraints.some((c) => c.type === 'distinctInstance');
  const memberOf = request.constraints.flatMap((c) => (c.type === 'memberOf' ? [c.expression] : []));
  // Only an expression about task:group can change its answer when a copy lands, so only then is it
  // evaluated again. runningTasksCount stays as given: copies placed here are not running yet.
  const groupSensitive = memberOf.some(referencesTaskGroup);
  const portKeys = task.ports.map(portKey);
  const duplicatePorts = new Set(portKeys).size !== portKeys.length;
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
    const blocked =
      instance.status !== 'ACTIVE' ||
      !instance.agentConnected ||
      (distinct && groupTasks > 0) ||
      duplicatePorts ||
      usesAnyPort(instance, portKeys) ||
      !selectedByAll(memberOf, instance);
    slots[order] = new Slot(instance, order, groupTasks, blocked, bucketTable, spreadFields.length);
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
    const best = choose(groups, task, scorers, rest, random, rng);
    if (best === undefined) break;
    best.remainingCpu -= task.cpu;
    best.remainingMemory -= task.memory;
    best.placedHere += 1;
    best.groupTasks += 1;
    for (let index = 0; index < best.spreadFields; index++) best.bucket(index).tasks += 1;
    if (distinct || portKeys.length > 0) best.blocked = true;
    if (memberOf.length > 0 && !best.target.taskGroups.has(task.group)) {
      best.target = { ...best.target, taskGroups: new Set([...best.target.taskGroups, task.group]) };
      if (groupSensitive && !selectedByAll(memberOf, best.target)) {
        best.blocked = true;
      }
    }
    if (landingStalesAll) for (const group of groups) group.stale = true;
    else if (best.group !== undefined) best.group.stale = true;
    placements.push({ instanceId: best.instance.instanceId, arn: best.instance.arn });
  }

  const unplaced = wanted - placements.length;
  if (unplaced === 0) {
    return { placements, unplaced, failures: [], explanation: describeSuccess(placements) };
  }
  const context: DiagnosisContext = { task, distinct, memberOf, portKeys, duplicatePorts };
  const diagnoses = slots.map((slot) => diagnose(slot, context));
  const failures = diagnoses.flatMap((checks, i) => {
    const first = checks[0];
    const slot = slots[i];
    return first === undefined || slot === undefined
      ? []
      : [{ arn: slot.instance.arn, reason: first.reason, detail: first.detail }];
  });
  const closest = findClosest(slots, diagnoses);
  return {
    placements,
    unplaced,
    failures,
    explanation: describeFailure(wanted, placements.length, slots, diagnoses, context),
    ...(closest === undefined ? {} : { closest }),
  };
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

function usesAnyPort(instance: CandidateInstance, portKeys: readonly string[]): boolean {
  for (const key of portKeys) if (instance.usedPorts.has(key)) return true;
  return false;
}

function selectedByAll(memberOf: readonly QueryAst[], target: QueryTarget): boolean {
  for (const expression of memberOf) if (!evaluateClusterQuery(expression, target)) return false;
  return true;
}

/** Picks the best candidate for one copy; drops groups in which nothing fits any more. */
function choose(
  groups: Group[],
  task: TaskRequirements,
  scorers: readonly Scorer[],
  rest: readonly Scorer[],
  random: boolean,
  rng: () => number,
): Slot | undefined {
  let best: Slot | undefined;
  let ties = 0;
  let kept = 0;
  for (const group of groups) {
    if (group.stale) rescan(group, task, rest, random, rng);
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
  task: TaskRequirements,
  rest: readonly Scorer[],
  random: boolean,
  rng: () => number,
): void {
  const { members } = group;
  let best: Slot | undefined;
  let ties = 0;
  let kept = 0;
  for (const slot of members) {
    if (slot.blocked || slot.remainingCpu < task.cpu || slot.remainingMemory < task.memory) continue;
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

function compileStrategies(strategy: readonly PlacementStrategy[]): {
  scorers: Scorer[];
  random: boolean;
  spreadFields: string[];
} {
  const scorers: Scorer[] = [];
  const spreadFields: string[] = [];
  for (const s of strategy) {
    // random ranks every candidate apart, so strategies listed after it never get a tie to break.
    if (s.type === 'random') return { scorers, random: true, spreadFields };
    if (s.type === 'binpack') scorers.push({ kind: s.field });
    else {
      scorers.push({
        kind: 'spread',
        index: spreadFields.length,
        local: s.field === 'instanceId' || s.field === 'host',
      });
      spreadFields.push(s.field);
    }
  }
  return { scorers, random: false, spreadFields };
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

/** The bucket of one spread-field value, made empty the first time the value is seen. */
function bucketFor(byValue: Map<string | undefined, Bucket>, value: string | undefined): Bucket {
  let bucket = byValue.get(value);
  if (bucket === undefined) {
    bucket = { tasks: 0 };
    byValue.set(value, bucket);
  }
  return bucket;
}

type SpreadSubject = { instanceId: string; attributes: Readonly<Record<string, string | undefined>> };

/** The spread field's value for an instance; the field is parsed once, not once per instance. */
function spreadValueReader(field: string): (instance: SpreadSubject) => string | undefined {
  if (field === 'instanceId' || field === 'host') return (instance) => instance.instanceId;
  if (field.startsWith('attribute:')) {
    const name = field.slice('attribute:'.length);
    return (instance) => {
      const value = instance.attributes[name];
      // A plain record reaches Object.prototype for names like `constructor`; only strings are values.
      return typeof value === 'string' ? value : undefined;
    };
  }
  // An unknown field (the API layer rejects these) puts every instance in one bucket: no preference.
  return () => '';
}

function bucketAt(holder: { readonly buckets: readonly Bucket[] }, index: number): Bucket {
  const bucket = holder.buckets[index];
  if (bucket === undefined) throw new Error(`placement: no spread bucket ${index}`);
  return bucket;
}

function referencesTaskGroup(ast: QueryAst): boolean {
  switch (ast.kind) {
    case 'and':
    case 'or':
      return ast.operands.some(referencesTaskGroup);
    case 'not':
      return referencesTaskGroup(ast.operand);
    default:
      return ast.subject.kind === 'task:group';
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

const portKey = (port: PortRequest): string => `${port.protocol}:${port.hostPort}`;

/** `tcp:8080` → `8080/tcp`, the way Docker prints ports. */
const showPort = (key: string): string => {
  const colon = key.indexOf(':');
  return `${key.slice(colon + 1)}/${key.slice(0, colon)}`;
};

/** Small, fast and good enough for tie-breaking; what matters is that a seed replays exactly. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------------
// Explaining a failure

interface DiagnosisContext {
  task: TaskRequirements;
  distinct: boolean;
  memberOf: readonly QueryAst[];
  portKeys: readonly string[];
  duplicatePorts: boolean;
}

interface Check {
  reason: PlacementFailureReason;
  detail: string;
  /** Completes "The closest matching (container-instance ID) …". */
  lacking: string;
  /** Sub-kind used to word the summary. */
  topic: string;
}

/** Every check the slot fails for one more copy, in filter order. Runs once, only when a copy is left over. */
function diagnose(slot: Slot, context: DiagnosisContext): Check[] {
  const { instance } = slot;
  const { task } = context;
  const checks: Check[] = [];
  if (instance.status !== 'ACTIVE') {
    checks.push({
      reason: instance.status === 'DRAINING' ? 'DRAINING' : 'INACTIVE',
      detail: `container instance is ${instance.status}`,
      lacking: instance.status === 'DRAINING' ? 'is draining' : `is ${instance.status}`,
      topic: instance.status,
    });
  }
  if (!instance.agentConnected) {
    checks.push({
      reason: 'AGENT',
      detail: 'agent is disconnected',
      lacking: 'has its agent disconnected',
      topic: 'AGENT',
    });
  }
  if (context.distinct && slot.groupTasks > 0) {
    checks.push({
      reason: 'ATTRIBUTE',
      detail: `already runs a task of group ${task.group} (distinctInstance)`,
      lacking: `already runs a task of group ${task.group}`,
      topic: 'distinctInstance',
    });
  }
  for (const expression of context.memberOf) {
    if (!evaluateClusterQuery(expression, slot.target)) {
      checks.push({
        reason: 'ATTRIBUTE',
        detail: `does not match memberOf(${formatClusterQuery(expression)})`,
        lacking: 'is missing an attribute required by your task',
        topic: 'memberOf',
      });
    }
  }
  const portProblems: string[] = [];
  if (context.duplicatePorts) portProblems.push('the task requests the same host port twice');
  const inUse = context.portKeys.filter((key) => instance.usedPorts.has(key));
  if (inUse.length > 0) portProblems.push(`port ${inUse.map(showPort).join(', ')} in use`);
  if (slot.placedHere > 0 && context.portKeys.length > 0) {
    portProblems.push(
      `port ${context.portKeys.map(showPort).join(', ')} taken by a copy placed in this call`,
    );
  }
  if (portProblems.length > 0) {
    checks.push({
      reason: 'RESOURCE:PORTS',
      detail: portProblems.join('; '),
      lacking: 'is already using a port required by your task',
      topic: 'RESOURCE:PORTS',
    });
  }
  if (slot.remainingCpu < task.cpu) {
    checks.push({
      reason: 'RESOURCE:CPU',
      detail: `needs ${task.cpu} CPU units, ${slot.remainingCpu} free`,
      lacking: 'has insufficient CPU units available',
      topic: 'RESOURCE:CPU',
    });
  }
  if (slot.remainingMemory < task.memory) {
    checks.push({
      reason: 'RESOURCE:MEMORY',
      detail: `needs ${task.memory} MiB, ${slot.remainingMemory} MiB free`,
      lacking: 'has insufficient memory available',
      topic: 'RESOURCE:MEMORY',
    });
  }
  return checks;
}

/**
 * Fewest failed checks wins; on a tie an ACTIVE, connected instance is the more useful answer ("add
 * memory there") than one that is going away; then the lowest id.
 */
function findClosest(slots: readonly Slot[], diagnoses: readonly Check[][]): ClosestInstance | undefined {
  let best: { slot: Slot; checks: Check[]; rank: number } | undefined;
  slots.forEach((slot, i) => {
    const checks = diagnoses[i] ?? [];
    if (checks.length === 0) return;
    const unusable = checks.some(
      (c) => c.reason === 'INACTIVE' || c.reason === 'DRAINING' || c.reason === 'AGENT',
    );
    const rank = checks.length * 2 + (unusable ? 1 : 0);
    if (best === undefined || rank < best.rank) best = { slot, checks, rank };
  });
  if (best === undefined) return undefined;
  const { slot, checks } = best;
  return {
    instanceId: slot.instance.instanceId,
    arn: slot.instance.arn,
    reasons: checks.map((c) => c.reason),
    lacking: [...new Set(checks.map((c) => c.lacking))].join(' and '),
  };
}

function describeSuccess(placements: readonly Placement[]): string {
  if (placements.length === 0) return 'Nothing to place.';
  const hosts = new Set(placements.map((p) => p.instanceId)).size;
  return `Placed ${plural(placements.length, 'task')} on ${plural(hosts, 'container instance')}.`;
}

const TOPIC_ORDER = [
  'INACTIVE',
  'REGISTERING',
  'DEREGISTERING',
  'DRAINING',
  'AGENT',
  'distinctInstance',
  'memberOf',
  'RESOURCE:PORTS',
  'RESOURCE:CPU',
  'RESOURCE:MEMORY',
];

/**
 * "No container instance met all requirements: 2 lacked memory (needs 512 MiB, most free 256 MiB on
 * ci-1), 1 draining." Each instance is counted once, under the first check it failed; the most common
 * reason comes first because it is the one worth fixing.
 */
function describeFailure(
  wanted: number,
  placed: number,
  slots: readonly Slot[],
  diagnoses: readonly Check[][],
  context: DiagnosisContext,
): string {
  const head =
    placed === 0
      ? 'No container instance met all requirements'
      : `Placed ${placed} of ${plural(wanted, 'task')}; no container instance met all requirements for the other ${wanted - placed}`;
  if (slots.length === 0) return `${head}: the cluster has no container instances.`;

  const byTopic = new Map<string, Slot[]>();
  slots.forEach((slot, i) => {
    const first = diagnoses[i]?.[0];
    if (first === undefined) return;
    const list = byTopic.get(first.topic) ?? [];
    list.push(slot);
    byTopic.set(first.topic, list);
  });
  const parts = [...byTopic.entries()]
    .sort(([a, x], [b, y]) => y.length - x.length || TOPIC_ORDER.indexOf(a) - TOPIC_ORDER.indexOf(b))
    .map(([topic, list]) => summarize(topic, list, context));
  return `${head}: ${parts.join(', ')}.`;
}

function summarize(topic: string, slots: readonly Slot[], context: DiagnosisContext): string {
  const n = slots.length;
  const { task } = context;
  switch (topic) {
    case 'DRAINING':
    case 'INACTIVE':
    case 'REGISTERING':
    case 'DEREGISTERING':
      return `${n} ${topic.toLowerCase()}`;
    case 'AGENT':
      return `${n} ${n === 1 ? 'agent' : 'agents'} disconnected`;
    case 'distinctInstance':
      return `${n} already ran a task of group ${task.group} (distinctInstance)`;
    case 'memberOf':
      return `${n} did not match ${context.memberOf.length === 1 ? 'the memberOf constraint' : 'the memberOf constraints'}`;
    case 'RESOURCE:PORTS': {
      if (context.duplicatePorts) return `${n} could not bind the same host port twice`;
      const ports = new Set<string>();
      for (const slot of slots) {
        for (const key of context.portKeys) {
          if (slot.instance.usedPorts.has(key) || slot.placedHere > 0) ports.add(showPort(key));
        }
      }
      return `${n} had port ${[...ports].join(', ')} in use`;
    }
    case 'RESOURCE:CPU': {
      const most = maxBy(slots, (s) => s.remainingCpu);
      return `${n} lacked CPU (needs ${task.cpu} units, most free ${most.remainingCpu} on ${most.instance.instanceId})`;
    }
    default: {
      const most = maxBy(slots, (s) => s.remainingMemory);
      return `${n} lacked memory (needs ${task.memory} MiB, most free ${most.remainingMemory} MiB on ${most.instance.instanceId})`;
    }
  }
}

/** First of the maxima, so the lowest id among equals. `items` is never empty here. */
function maxBy<T>(items: readonly T[], key: (item: T) => number): T {
  let best = items[0] as T;
  for (const item of items) if (key(item) > key(best)) best = item;
  return best;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

// ---------------------------------------------------------------------------------------------------
// Scale-in

export interface RunningTaskRef {
  taskId: string;
  instanceId: string;
  /** What the task reserves, given back to its instance when it stops (binpack looks at the result). */
  cpu: number;
  memory: number;
}

/** A CandidateInstance fits; only these fields are read. */
export interface ScaleInInstance {
  instanceId: string;
  attributes: Readonly<Record<string, string | undefined>>;
  remainingCpu: number;
  remainingMemory: number;
}

export interface StopChoiceRequest {
  count: number;
  /** The service's placement strategy. */
  strategy: readonly PlacementStrategy[];
  seed: number;
}

interface Holder {
  readonly instance: ScaleInInstance | undefined;
  readonly tasks: { task: RunningTaskRef; position: number }[];
  next: number;
  remainingCpu: number;
  remainingMemory: number;
  readonly buckets: Bucket[];
}

/**
 * Which of a group's running tasks to stop first when scaling in, mirroring placement so that scale-in
 * undoes what placement would have done:
 * - spread: take from the field value (zone, instance) with the most tasks of the group, which keeps the
 *   spread even — ECS balances zones the same way when it scales in;
 * - binpack: take from the instance that has the most of the field free once the task is gone — as ECS
 *   documents for binpack — which empties the emptiest hosts first and leaves the full ones full;
 * - random: a seeded pick, uniform over the tasks still tied.
 * Strategies break each other's ties in list order. A task whose instance is not listed (deregistered,
 * lost) goes first: it is the least likely to be serving. The last tie-break is the order of `tasks`, so
 * the caller can list the tasks it would rather lose (unhealthy, still PENDING) first.
 *
 * Returns task ids in stop order, at most `count` of them.
 */
export function chooseTasksToStop(
  request: StopChoiceRequest,
  tasks: readonly RunningTaskRef[],
  instances: readonly ScaleInInstance[],
): string[] {
  const known = new Map(instances.map((instance) => [instance.instanceId, instance]));
  const holders = new Map<string, Holder>();
  tasks.forEach((task, position) => {
    let holder = holders.get(task.instanceId);
    if (holder === undefined) {
      const instance = known.get(task.instanceId);
      holder = {
        instance,
        tasks: [],
        next: 0,
        remainingCpu: instance?.remainingCpu ?? 0,
        remainingMemory: instance?.remainingMemory ?? 0,
        buckets: [],
      };
      holders.set(task.instanceId, holder);
    }
    holder.tasks.push({ task, position });
  });

  const { scorers, random, spreadFields } = compileStrategies(request.strategy);
  for (const field of spreadFields) {
    const readValue = spreadValueReader(field);
    const byValue = new Map<string | undefined, Bucket>();
    for (const [instanceId, holder] of holders) {
      // An unknown instance has no attributes to group by; it is stopped first anyway.
      const value = holder.instance === undefined ? `\0${instanceId}` : readValue(holder.instance);
      const bucket = bucketFor(byValue, value);
      bucket.tasks += holder.tasks.length;
      holder.buckets.push(bucket);
    }
  }

  const rng = mulberry32(request.seed);
  const live = [...holders.values()];
  const stopped: string[] = [];
  const wanted = Number.isFinite(request.count) && request.count > 0 ? Math.floor(request.count) : 0;
  while (stopped.length < wanted) {
    let best: Holder | undefined;
    let ties = 0;
    let kept = 0;
    for (const holder of live) {
      // Weighting an instance by its tasks makes random uniform over tasks, not over instances.
      const left = holder.tasks.length - holder.next;
      if (left <= 0) continue;
      live[kept++] = holder;
      if (best === undefined) {
        best = holder;
        ties = left;
        continue;
      }
      const order = compareForStopping(holder, best, scorers);
      if (order < 0) {
        best = holder;
        ties = left;
      } else if (order === 0 && random) {
        ties += left;
        if (rng() * ties < left) best = holder;
      } else if (order === 0 && nextPosition(holder) < nextPosition(best)) {
        best = holder;
      }
    }
    live.length = kept;
    const entry = best?.tasks[best.next];
    if (best === undefined || entry === undefined) break;
    best.next += 1;
    best.remainingCpu += entry.task.cpu;
    best.remainingMemory += entry.task.memory;
    for (const bucket of best.buckets) bucket.tasks -= 1;
    stopped.push(entry.task.taskId);
  }
  return stopped;
}

/** Negative when the next task of `a` should stop before the next task of `b`. */
function compareForStopping(a: Holder, b: Holder, scorers: readonly Scorer[]): number {
  if ((a.instance === undefined) !== (b.instance === undefined)) return a.instance === undefined ? -1 : 1;
  for (const scorer of scorers) {
    let difference: number;
    if (scorer.kind === 'cpu') difference = afterStop(b, 'cpu') - afterStop(a, 'cpu');
    else if (scorer.kind === 'memory') difference = afterStop(b, 'memory') - afterStop(a, 'memory');
    else difference = bucketAt(b, scorer.index).tasks - bucketAt(a, scorer.index).tasks;
    if (difference !== 0) return difference;
  }
  return 0;
}

function afterStop(holder: Holder, field: 'cpu' | 'memory'): number {
  const entry = holder.tasks[holder.next];
  if (field === 'cpu') return holder.remainingCpu + (entry?.task.cpu ?? 0);
  return holder.remainingMemory + (entry?.task.memory ?? 0);
}

function nextPosition(holder: Holder): number {
  return holder.tasks[holder.next]?.position ?? Number.POSITIVE_INFINITY;
}
