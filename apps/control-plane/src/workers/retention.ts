/**
 * The housekeeping job's order of work, pure: which kind of record it removes next, batch by batch.
 * The I/O (one bounded statement per batch) is workers/housekeeping.ts.
 *
 * Each round takes one batch of every kind that still has work, so however large one backlog is, every
 * kind makes progress in every run. Some rows stay while others point at them (a deregistered
 * instance, a finished request, while tasks name them; a request until the abandoned ones are
 * cancelled): such a kind gets a fresh pass once the kinds it waits for have finished theirs, so a
 * run that clears a backlog of stopped tasks also clears the instances and requests they held.
 */

/** In the order a round visits them: what frees rows for the later kinds comes first. */
export const RETENTION_KINDS = [
  'abandonedRequests',
  'stoppedTasks',
  'serviceEvents',
  'auditEvents',
  'inactiveInstances',
  'placementRequests',
] as const;
export type RetentionKind = (typeof RETENTION_KINDS)[number];

/** The kinds whose removals can make more rows of this kind removable (foreign keys, cancellation). */
export const WAITS_FOR: Readonly<Record<RetentionKind, readonly RetentionKind[]>> = {
  abandonedRequests: [],
  stoppedTasks: [],
  serviceEvents: [],
  auditEvents: [],
  inactiveInstances: ['stoppedTasks'],
  placementRequests: ['stoppedTasks', 'abandonedRequests'],
};

/**
 * One kind's pass over its table. `running`: has more batches to take. `waiting`: its pass ended, but
 * began before the kinds it waits for had finished, so rows they free may be left. `done`: finished.
 * `clean`: the current pass began after every kind it waits for had finished.
 */
export interface Pass {
  phase: 'running' | 'waiting' | 'done';
  clean: boolean;
}
export type Passes = Readonly<Record<RetentionKind, Pass>>;

export function initialPasses(): Passes {
  const out = {} as Record<RetentionKind, Pass>;
  for (const kind of RETENTION_KINDS) out[kind] = { phase: 'running', clean: WAITS_FOR[kind].length === 0 };
  return out;
}

/** The kinds that take a batch in the next round, in RETENTION_KINDS order; none: the run is done. */
export function nextRound(passes: Passes): RetentionKind[] {
  return RETENTION_KINDS.filter((k) => passes[k].phase === 'running');
}

/**
 * After one batch of `kind`: `more` says whether it may have more to do. Answers the new passes and the
 * kinds that start a fresh pass now (their scan starts again from the oldest row).
 */
export function afterBatch(
  passes: Passes,
  kind: RetentionKind,
  more: boolean,
): { passes: Passes; restarted: RetentionKind[] } {
  const next: Record<RetentionKind, Pass> = { ...passes };
  const own = passes[kind];
  next[kind] = more ? own : { ...own, phase: own.clean ? 'done' : 'waiting' };
  const restarted: RetentionKind[] = [];
  for (const k of RETENTION_KINDS) {
    if (next[k].clean || !WAITS_FOR[k].every((w) => next[w].phase === 'done')) continue;
    next[k] = { phase: 'running', clean: true };
    restarted.push(k);
  }
  return { passes: next, restarted };
}

/**
 * Whether to take another batch: always within the first round (every kind progresses every run),
 * afterwards only within the time budget.
 */
export function withinBudget(round: number, elapsedMs: number, budgetMs: number): boolean {
  return round === 0 || elapsedMs < budgetMs;
}
