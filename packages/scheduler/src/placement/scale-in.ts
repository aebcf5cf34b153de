/** Scale-in: which of a group's running tasks to stop first, undoing what placement would have done. */
import type { PlacementStrategy } from './request.ts';
import {
  type Bucket,
  bucketFor,
  compileStrategies,
  mulberry32,
  type Scorer,
  spreadValueReader,
} from './strategies.ts';

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

function bucketAt(holder: { readonly buckets: readonly Bucket[] }, index: number): Bucket {
  const bucket = holder.buckets[index];
  if (bucket === undefined) throw new Error(`placement: no spread bucket ${index}`);
  return bucket;
}
