/** One call's view of the cluster: a slot per instance, grouped for the choice of each copy. */
import type { QueryAst, QueryTarget } from '../query/ast.ts';
import type { CandidateInstance } from './request.ts';
import type { TaskRequirements } from './requirements.ts';
import type { Bucket } from './strategies.ts';

/** What one call asks of every instance, worked out once per call; the filters read it. */
export interface PlacementCall {
  readonly task: TaskRequirements;
  readonly distinct: boolean;
  readonly memberOf: readonly QueryAst[];
  /** `tcp:8080` per static host port of the task. */
  readonly portKeys: readonly string[];
  /** The task asks for one host port twice, so it fits nowhere. */
  readonly duplicatePorts: boolean;
}

/**
 * One instance as this call sees it. A class, not an object literal: V8 may pretenure a literal's
 * allocation site — allocate it straight in the old generation — once it sees every object from the
 * site alive at one young-generation collection, which happens when that collection falls inside a
 * call (all of the call's slots are alive then). From then on each call left ~1,000 slots of garbage
 * in the old generation, and placement ran at a third of its speed in about a third of processes,
 * busy with major collections. `new` of a class has no allocation site, so it is never pretenured.
 */
export class Slot {
  /** What memberOf sees: the instance itself until a copy adds this call's group to its task groups. */
  target: QueryTarget;
  remainingCpu: number;
  remainingMemory: number;
  placedHere = 0;
  /** Fails a `landing` filter (filters.ts), which no later copy can pass either. */
  blocked = false;
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

/**
 * Candidates sharing one value of the leading spread field (all candidates in one group when the first
 * strategy is not a spread). That value's task count is the same for every member, so a group's best
 * member under the other strategies only changes when a copy lands in the group — or anywhere, when a
 * later strategy spreads over an attribute. Caching it makes a copy cost one group's scan instead of the
 * whole cluster's: with spread over three zones, a third.
 */
export interface Group {
  readonly members: Slot[];
  best: Slot | undefined;
  /** Members tied with `best`, so that random picks uniformly across groups too. */
  ties: number;
  stale: boolean;
}
