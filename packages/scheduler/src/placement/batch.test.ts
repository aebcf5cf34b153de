import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BatchRequest, type GroupTasks, placeBatch, reserveOn } from './batch.ts';
import { placeTasks } from './place-tasks.ts';
import type { PlacementStrategy } from './request.ts';
import type { TaskRequirements } from './requirements.ts';
import { instance } from './test-instances.ts';

const task = (overrides: Partial<TaskRequirements> = {}): TaskRequirements => ({
  cpu: 128,
  memory: 256,
  ports: [],
  group: 'family:web',
  ...overrides,
});

const run = (
  t: TaskRequirements,
  count: number,
  extra: Partial<Extract<BatchRequest, { kind: 'run' }>['request']> = {},
): BatchRequest => ({
  kind: 'run',
  request: { task: t, count, constraints: [], strategy: [], seed: 1, ...extra },
});

const hosts = (r: { placements: { instanceId: string }[] }) => r.placements.map((p) => p.instanceId);
const none: GroupTasks = new Map();

describe('reserveOn', () => {
  it('takes the task’s CPU, memory and ports, and adds its group', () => {
    const after = reserveOn(
      instance('a', { usedPorts: new Set(['tcp:22']) }),
      task({ ports: [{ hostPort: 80, protocol: 'tcp' }], group: 'service:x' }),
    );
    expect(after).toMatchObject({ remainingCpu: 896, remainingMemory: 1792, runningTasksCount: 0 });
    expect([...after.usedPorts].sort()).toEqual(['tcp:22', 'tcp:80']);
    expect([...after.taskGroups]).toEqual(['service:x']);
  });
});

describe('placeBatch', () => {
  it('each call sees what the earlier ones of the batch took', () => {
    const spread: PlacementStrategy[] = [{ type: 'spread', field: 'instanceId' }];
    const results = placeBatch(
      [run(task(), 2, { strategy: spread }), run(task(), 2, { strategy: spread })],
      [instance('a'), instance('b'), instance('c'), instance('d')],
      none,
    );
    // Alone, the second call would pick a and b again.
    expect(results.map(hosts)).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
  });

  it('a later call gets what is left, and its failure says why', () => {
    const results = placeBatch(
      [run(task({ memory: 1500 }), 1), run(task({ memory: 1500 }), 1)],
      [instance('a')],
      none,
    );
    expect(results.map(hosts)).toEqual([['a'], []]);
    expect(results[1]?.failures.map((f) => f.reason)).toEqual(['RESOURCE:MEMORY']);
    expect(results[1]?.explanation).not.toBe('');
    expect(results[0]?.explanation).toBe('');
  });

  it('distinctInstance holds across the calls of a batch and the tasks already there', () => {
    const distinct = { constraints: [{ type: 'distinctInstance' as const }] };
    const results = placeBatch(
      [run(task(), 1, distinct), run(task(), 2, distinct)],
      [instance('a'), instance('b'), instance('c')],
      new Map([['a', new Map([['family:web', 1]])]]),
    );
    expect(results.map(hosts)).toEqual([['b'], ['c']]);
  });

  it('StartTask: one copy per named instance, MISSING for unknown ones, a port taken by an earlier call', () => {
    const web = task({ ports: [{ hostPort: 80, protocol: 'tcp' }] });
    const results = placeBatch(
      [run(web, 1), { kind: 'start', task: web, instanceIds: ['a', 'b', 'zz'] }],
      [instance('a'), instance('b')],
      none,
    );
    expect(results.map(hosts)).toEqual([['a'], ['b']]);
    expect(results[1]?.missingInstanceIds).toEqual(['zz']);
    expect(results[1]?.failures.map((f) => f.reason)).toEqual(['RESOURCE:PORTS']);
  });

  it('the first call of a batch decides exactly as placeTasks alone', () => {
    const instances = [instance('a'), instance('b', { remainingMemory: 512 })];
    const groupTasks = new Map([['b', new Map([['family:web', 2]])]]);
    const request = {
      task: task(),
      count: 3,
      constraints: [],
      strategy: [{ type: 'spread' as const, field: 'instanceId' as const }],
      seed: 7,
    };
    const [first] = placeBatch([{ kind: 'run', request }], instances, groupTasks);
    const alone = placeTasks({ ...request, existingGroupTasks: new Map([['b', 2]]) }, instances);
    expect(first?.placements).toEqual(alone.placements);
  });

  const strategyArb = fc.constantFrom<PlacementStrategy[]>(
    [],
    [{ type: 'binpack', field: 'memory' }],
    [{ type: 'spread', field: 'instanceId' }],
    [
      { type: 'spread', field: 'attribute:zone' },
      { type: 'binpack', field: 'cpu' },
    ],
    [{ type: 'random' }],
  );
  const taskArb = fc.record({
    cpu: fc.integer({ min: 0, max: 600 }),
    memory: fc.integer({ min: 1, max: 1200 }),
    ports: fc.subarray([
      { hostPort: 80, protocol: 'tcp' as const },
      { hostPort: 53, protocol: 'udp' as const },
    ]),
    group: fc.constantFrom('family:a', 'family:b'),
  });
  const requestArb: fc.Arbitrary<BatchRequest> = fc.oneof(
    fc.record({
      kind: fc.constant('run' as const),
      request: fc.record({
        task: taskArb,
        count: fc.integer({ min: 0, max: 6 }),
        constraints: fc.constantFrom([], [{ type: 'distinctInstance' as const }]),
        strategy: strategyArb,
        seed: fc.integer(),
      }),
    }),
    fc.record({
      kind: fc.constant('start' as const),
      task: taskArb,
      instanceIds: fc.array(fc.constantFrom('i0', 'i1', 'i2', 'i3', 'gone'), { maxLength: 4 }),
    }),
  );

  it('property: a batch never over-commits an instance, reuses a port, or breaks distinctInstance', () => {
    fc.assert(
      fc.property(fc.array(requestArb, { maxLength: 8 }), fc.integer({ min: 1, max: 4 }), (requests, n) => {
        const instances = Array.from({ length: n }, (_, i) =>
          instance(`i${i}`, { attributes: { zone: i % 2 === 0 ? 'x' : 'y' } }),
        );
        const results = placeBatch(requests, instances, none);
        expect(results).toHaveLength(requests.length);
        const cpu = new Map<string, number>();
        const memory = new Map<string, number>();
        const ports = new Map<string, Set<string>>();
        const groups = new Map<string, string[]>();
        for (const [k, item] of requests.entries()) {
          const t = item.kind === 'run' ? item.request.task : item.task;
          const distinct = item.kind === 'run' && item.request.constraints.length > 0;
          const placed = hosts(results[k] ?? { placements: [] });
          if (item.kind === 'run') expect(placed.length).toBeLessThanOrEqual(item.request.count);
          for (const id of placed) {
            cpu.set(id, (cpu.get(id) ?? 0) + t.cpu);
            memory.set(id, (memory.get(id) ?? 0) + t.memory);
            const used = ports.get(id) ?? new Set(['tcp:22']);
            for (const p of t.ports) {
              const key = `${p.protocol}:${p.hostPort}`;
              expect(used.has(key)).toBe(false);
              used.add(key);
            }
            ports.set(id, used);
            const here = groups.get(id) ?? [];
            if (distinct) expect(here).not.toContain(t.group);
            here.push(t.group);
            groups.set(id, here);
          }
        }
        for (const used of cpu.values()) expect(used).toBeLessThanOrEqual(1024);
        for (const [id, used] of memory) expect(used, id).toBeLessThanOrEqual(2048);
        expect(placeBatch(requests, instances, none)).toEqual(results);
      }),
    );
  });
});
