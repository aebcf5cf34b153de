/**
 * The placement strategies (binpack, spread, random) compiled once per call into scorers, and what
 * they share with choosing tasks to stop: spread buckets and the seeded random source.
 */
import type { PlacementStrategy } from './request.ts';

/** Tasks of the group on all instances sharing one value of a spread field. */
export interface Bucket {
  tasks: number;
}

/** `local`: the field's value is the instance itself, so a copy changes the count of that instance only. */
export type Scorer = { kind: 'cpu' } | { kind: 'memory' } | { kind: 'spread'; index: number; local: boolean };

export function compileStrategies(strategy: readonly PlacementStrategy[]): {
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

/** The bucket of one spread-field value, made empty the first time the value is seen. */
export function bucketFor(byValue: Map<string | undefined, Bucket>, value: string | undefined): Bucket {
  let bucket = byValue.get(value);
  if (bucket === undefined) {
    bucket = { tasks: 0 };
    byValue.set(value, bucket);
  }
  return bucket;
}

type SpreadSubject = { instanceId: string; attributes: Readonly<Record<string, string | undefined>> };

/** The spread field's value for an instance; the field is parsed once, not once per instance. */
export function spreadValueReader(field: string): (instance: SpreadSubject) => string | undefined {
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

/** Small, fast and good enough for tie-breaking; what matters is that a seed replays exactly. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
