import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PlacementStrategy } from './request.ts';
import { chooseTasksToStop, type RunningTaskRef } from './scale-in.ts';

const strategyArb = fc.constantFrom<PlacementStrategy>(
  { type: 'binpack', field: 'cpu' },
  { type: 'binpack', field: 'memory' },
  { type: 'spread', field: 'instanceId' },
  { type: 'spread', field: 'attribute:zone' },
  { type: 'spread', field: 'attribute:rack' },
  { type: 'random' },
);

describe('chooseTasksToStop', () => {
  const zones = [
    { instanceId: 'ci-a1', attributes: { zone: 'a' }, remainingCpu: 0, remainingMemory: 100 },
    { instanceId: 'ci-a2', attributes: { zone: 'a' }, remainingCpu: 0, remainingMemory: 900 },
    { instanceId: 'ci-b1', attributes: { zone: 'b' }, remainingCpu: 0, remainingMemory: 500 },
  ];
  const spreadZone: PlacementStrategy = { type: 'spread', field: 'attribute:zone' };
  const spreadHost: PlacementStrategy = { type: 'spread', field: 'host' };
  const task = (taskId: string, instanceId: string): RunningTaskRef => ({
    taskId,
    instanceId,
    cpu: 0,
    memory: 100,
  });
  const tasks = [
    task('t1', 'ci-a2'),
    task('t2', 'ci-a1'),
    task('t3', 'ci-a1'),
    task('t4', 'ci-b1'),
    task('t5', 'ci-a1'),
  ];

  it.each<[string, PlacementStrategy[], number, string[]]>([
    // Zone a holds 4 tasks, zone b 1; inside a zone the order given breaks ties.
    [
      'spread over zones takes from the fullest zone until balanced',
      [spreadZone],
      4,
      ['t1', 't2', 't3', 't4'],
    ],
    [
      'spread over zones then hosts takes from the fullest host of the fullest zone',
      [spreadZone, spreadHost],
      3,
      ['t2', 't3', 't1'],
    ],
    ['spread over hosts takes from the host with the most', [spreadHost], 4, ['t2', 't3', 't1', 't4']],
    // Memory left once the task is gone: ci-a2 1000, ci-b1 600, ci-a1 200.
    [
      'binpack empties the emptiest host first',
      [{ type: 'binpack', field: 'memory' }],
      3,
      ['t1', 't4', 't2'],
    ],
    ['no strategy: in the order given', [], 2, ['t1', 't2']],
    ['more than there are: all of them', [], 9, ['t1', 't2', 't3', 't4', 't5']],
    ['nothing to stop', [{ type: 'random' }], 0, []],
  ])('%s', (_, strategy, count, expected) => {
    expect(chooseTasksToStop({ count, strategy, seed: 1 }, tasks, zones)).toEqual(expected);
  });

  it('stops a task on an unknown instance first', () => {
    const stray = [...tasks, task('t6', 'ci-gone')];
    expect(
      chooseTasksToStop(
        { count: 1, strategy: [{ type: 'binpack', field: 'memory' }], seed: 1 },
        stray,
        zones,
      ),
    ).toEqual(['t6']);
  });

  it('random is uniform over tasks, not over instances', () => {
    const running = [task('x1', 'ci-a1'), task('x2', 'ci-a1'), task('x3', 'ci-a1'), task('y1', 'ci-b1')];
    let fromBusy = 0;
    for (let seed = 0; seed < 400; seed++) {
      const [first] = chooseTasksToStop({ count: 1, strategy: [{ type: 'random' }], seed }, running, zones);
      if (first?.startsWith('x')) fromBusy += 1;
    }
    expect(fromBusy).toBeGreaterThan(250);
    expect(fromBusy).toBeLessThan(350);
  });

  it('random is replayable from its seed', () => {
    const run = (seed: number) =>
      chooseTasksToStop({ count: 3, strategy: [{ type: 'random' }], seed }, tasks, zones);
    expect(run(5)).toEqual(run(5));
    expect(new Set(Array.from({ length: 10 }, (_, seed) => run(seed).join())).size).toBeGreaterThan(1);
  });

  it('property: returns distinct given tasks, min(count, tasks) of them, deterministically', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('ci-a1', 'ci-a2', 'ci-b1', 'ci-x'), { maxLength: 15 }),
        fc.nat(20),
        fc.array(strategyArb, { maxLength: 3 }),
        fc.integer(),
        (placement, count, strategy, seed) => {
          const running = placement.map((instanceId, i) => task(`t${i}`, instanceId));
          const chosen = chooseTasksToStop({ count, strategy, seed }, running, zones);
          expect(chosen).toHaveLength(Math.min(count, running.length));
          expect(new Set(chosen).size).toBe(chosen.length);
          for (const id of chosen) expect(running.some((t) => t.taskId === id)).toBe(true);
          expect(chooseTasksToStop({ count, strategy, seed }, running, zones)).toEqual(chosen);
        },
      ),
    );
  });
});
