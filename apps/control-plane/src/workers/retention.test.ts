import { describe, expect, it } from 'vitest';
import {
  afterBatch,
  initialPasses,
  nextRound,
  type Passes,
  RETENTION_KINDS,
  type RetentionKind,
  WAITS_FOR,
  withinBudget,
} from './retention.ts';

/** Runs the reducer over a script of batches: each kind reports `more` until its count runs out. */
function simulate(batchesOf: Record<RetentionKind, number>): {
  order: RetentionKind[];
  restarts: RetentionKind[];
} {
  let passes: Passes = initialPasses();
  const left = { ...batchesOf };
  const order: RetentionKind[] = [];
  const restarts: RetentionKind[] = [];
  for (let round = 0; round < 100; round++) {
    const kinds = nextRound(passes);
    if (kinds.length === 0) return { order, restarts };
    for (const kind of kinds) {
      order.push(kind);
      left[kind] = Math.max(0, left[kind] - 1);
      const next = afterBatch(passes, kind, left[kind] > 0);
      passes = next.passes;
      restarts.push(...next.restarted);
    }
  }
  throw new Error('did not finish');
}

const none = Object.fromEntries(RETENTION_KINDS.map((k) => [k, 0])) as Record<RetentionKind, number>;

describe('retention rounds', () => {
  it('visits every kind once in the first round, in the order that frees rows first', () => {
    expect(nextRound(initialPasses())).toEqual([...RETENTION_KINDS]);
    expect(RETENTION_KINDS.indexOf('stoppedTasks')).toBeLessThan(
      RETENTION_KINDS.indexOf('inactiveInstances'),
    );
    expect(RETENTION_KINDS.indexOf('abandonedRequests')).toBeLessThan(
      RETENTION_KINDS.indexOf('placementRequests'),
    );
  });

  it('every prerequisite comes earlier in a round than the kind that waits for it', () => {
    for (const kind of RETENTION_KINDS)
      for (const w of WAITS_FOR[kind])
        expect(RETENTION_KINDS.indexOf(w)).toBeLessThan(RETENTION_KINDS.indexOf(kind));
  });

  it.each([
    {
      name: 'nothing to do: one round, and the waiting kinds start clean once in it',
      batches: none,
      rounds: 1,
    },
    { name: 'a stopped-task backlog of 5 batches', batches: { ...none, stoppedTasks: 5 }, rounds: 5 },
    { name: 'events alone', batches: { ...none, serviceEvents: 3 }, rounds: 3 },
  ])('$name', ({ batches, rounds }) => {
    const { order } = simulate(batches);
    // Each kind's batches, and one batch more for the kinds restarted after their prerequisites.
    const count = (k: RetentionKind) => order.filter((o) => o === k).length;
    for (const k of RETENTION_KINDS) expect(count(k)).toBeGreaterThanOrEqual(Math.max(1, batches[k]));
    expect(count('stoppedTasks')).toBe(Math.max(1, batches.stoppedTasks));
    // Rounds: the longest kind decides (plus at most one fresh pass of a waiting kind).
    const longest = Math.max(...RETENTION_KINDS.map(count));
    expect(longest).toBeLessThanOrEqual(rounds + 1);
  });

  it('a kind that finished while tasks still had a backlog gets a fresh pass once they are done', () => {
    // Tasks take 3 batches; instances and requests finish their (unclean) pass in round 1.
    const { order, restarts } = simulate({ ...none, stoppedTasks: 3 });
    expect(restarts).toEqual(expect.arrayContaining(['inactiveInstances', 'placementRequests']));
    const lastTasks = order.lastIndexOf('stoppedTasks');
    expect(order.slice(lastTasks + 1)).toEqual(
      expect.arrayContaining(['inactiveInstances', 'placementRequests']),
    );
    // Each restarted once only: the fresh pass is clean, so its end is the end.
    expect(restarts.filter((k) => k === 'inactiveInstances')).toHaveLength(1);
  });

  it('a waiting kind stays put while its prerequisite has a backlog', () => {
    let passes = initialPasses();
    passes = afterBatch(passes, 'stoppedTasks', true).passes;
    const step = afterBatch(passes, 'inactiveInstances', false);
    expect(step.passes.inactiveInstances.phase).toBe('waiting');
    expect(step.restarted).toEqual([]);
    expect(nextRound(step.passes)).not.toContain('inactiveInstances');
  });

  it('placement requests wait for both the stopped tasks and the cancellation of abandoned ones', () => {
    let passes = initialPasses();
    passes = afterBatch(passes, 'abandonedRequests', true).passes;
    passes = afterBatch(passes, 'stoppedTasks', false).passes;
    passes = afterBatch(passes, 'placementRequests', false).passes;
    expect(passes.placementRequests.phase).toBe('waiting');
    const done = afterBatch(passes, 'abandonedRequests', false);
    expect(done.restarted).toEqual(['placementRequests']);
    expect(done.passes.placementRequests).toEqual({ phase: 'running', clean: true });
  });

  it.each([
    { round: 0, elapsedMs: 50_000, budgetMs: 20_000, go: true },
    { round: 1, elapsedMs: 19_999, budgetMs: 20_000, go: true },
    { round: 1, elapsedMs: 20_000, budgetMs: 20_000, go: false },
    { round: 7, elapsedMs: 0, budgetMs: 0, go: false },
  ])('budget: round $round at $elapsedMs ms of $budgetMs → $go', ({ round, elapsedMs, budgetMs, go }) => {
    expect(withinBudget(round, elapsedMs, budgetMs)).toBe(go);
  });
});
