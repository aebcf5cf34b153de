/**
 * Explaining a placement: ECS's failures[] for the first copy that found no place, the closest instance
 * for the service event, and one sentence for RunTask and logs. The words come from the filters' table.
 */
import { type Diagnosis, diagnose, FILTERS } from './filters.ts';
import type { ClosestInstance, Placement, PlacementResult } from './result.ts';
import type { PlacementCall, Slot } from './slot.ts';

/** The order ties between equally common topics are summed up in: the filters', then each one's topics. */
const TOPIC_ORDER = FILTERS.flatMap((filter) => filter.topics ?? [filter.name]);

export function describeSuccess(placements: readonly Placement[]): string {
  if (placements.length === 0) return 'Nothing to place.';
  const hosts = new Set(placements.map((p) => p.instanceId)).size;
  return `Placed ${plural(placements.length, 'task')} on ${plural(hosts, 'container instance')}.`;
}

/** Why the copies after `placements` found no place, slot by slot as the call left them. */
export function explainFailure(
  wanted: number,
  placements: readonly Placement[],
  slots: readonly Slot[],
  call: PlacementCall,
): Pick<PlacementResult, 'failures' | 'explanation' | 'closest'> {
  const diagnoses = slots.map((slot) => diagnose(slot, call));
  const failures = diagnoses.flatMap((checks, i) => {
    const first = checks[0];
    const slot = slots[i];
    return first === undefined || slot === undefined
      ? []
      : [{ arn: slot.instance.arn, reason: first.reason, detail: first.detail }];
  });
  const closest = findClosest(slots, diagnoses);
  return {
    failures,
    explanation: describeFailure(wanted, placements.length, slots, diagnoses, call),
    ...(closest === undefined ? {} : { closest }),
  };
}

/**
 * Fewest failed checks wins; on a tie an ACTIVE, connected instance is the more useful answer ("add
 * memory there") than one that is going away; then the lowest id.
 */
function findClosest(slots: readonly Slot[], diagnoses: readonly Diagnosis[][]): ClosestInstance | undefined {
  let best: { slot: Slot; checks: Diagnosis[]; rank: number } | undefined;
  slots.forEach((slot, i) => {
    const checks = diagnoses[i] ?? [];
    if (checks.length === 0) return;
    const unusable = checks.some((c) => c.filter.unusable === true);
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

/**
 * "No container instance met all requirements: 2 lacked memory (needs 512 MiB, most free 256 MiB on
 * ci-1), 1 draining." Each instance is counted once, under the first check it failed; the most common
 * reason comes first because it is the one worth fixing.
 */
function describeFailure(
  wanted: number,
  placed: number,
  slots: readonly Slot[],
  diagnoses: readonly Diagnosis[][],
  call: PlacementCall,
): string {
  const head =
    placed === 0
      ? 'No container instance met all requirements'
      : `Placed ${placed} of ${plural(wanted, 'task')}; no container instance met all requirements for the other ${wanted - placed}`;
  if (slots.length === 0) return `${head}: the cluster has no container instances.`;

  const byTopic = new Map<string, { first: Diagnosis; slots: Slot[] }>();
  slots.forEach((slot, i) => {
    const first = diagnoses[i]?.[0];
    if (first === undefined) return;
    const entry = byTopic.get(first.topic) ?? { first, slots: [] };
    entry.slots.push(slot);
    byTopic.set(first.topic, entry);
  });
  const parts = [...byTopic.entries()]
    .sort(
      ([a, x], [b, y]) => y.slots.length - x.slots.length || TOPIC_ORDER.indexOf(a) - TOPIC_ORDER.indexOf(b),
    )
    .map(([topic, { first, slots }]) => first.filter.summarize(topic, slots, call));
  return `${head}: ${parts.join(', ')}.`;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
