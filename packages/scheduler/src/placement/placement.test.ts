import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { QueryAst } from '../query/ast.ts';
import { evaluateClusterQuery } from '../query/evaluate.ts';
import { parseClusterQuery } from '../query/parse.ts';
import { placeTasks } from './place-tasks.ts';
import type {
  CandidateInstance,
  PlacementConstraint,
  PlacementRequest,
  PlacementStrategy,
} from './request.ts';
import { type TaskRequirements, taskRequirements } from './requirements.ts';
import type { PlacementFailureReason, PlacementResult } from './result.ts';
import { instance } from './test-instances.ts';

function query(expression: string): QueryAst {
  const result = parseClusterQuery(expression);
  if (!result.ok) throw new Error(`${expression}: ${result.error.message}`);
  return result.value;
}

const memberOf = (expression: string): PlacementConstraint => ({
  type: 'memberOf',
  expression: query(expression),
});

type RequestOverrides = Partial<Omit<PlacementRequest, 'task'>> & { task?: Partial<TaskRequirements> };

function request(overrides: RequestOverrides = {}): PlacementRequest {
  return {
    count: 1,
    constraints: [],
    strategy: [],
    seed: 1,
    ...overrides,
    task: { cpu: 128, memory: 256, ports: [], group: 'service:web', ...overrides.task },
  };
}

const hosts = (result: PlacementResult): string[] => result.placements.map((p) => p.instanceId);
const reasons = (result: PlacementResult) => result.failures.map((f) => f.reason);

describe('filters', () => {
  it.each<[Partial<CandidateInstance>, PlacementFailureReason]>([
    [{ status: 'DRAINING' }, 'DRAINING'],
    [{ status: 'INACTIVE' }, 'INACTIVE'],
    [{ status: 'REGISTERING' }, 'INACTIVE'],
    [{ status: 'DEREGISTERING' }, 'INACTIVE'],
    [{ agentConnected: false }, 'AGENT'],
    // Status is checked before the agent, the agent before resources.
    [{ status: 'DRAINING', agentConnected: false }, 'DRAINING'],
    [{ agentConnected: false, remainingMemory: 0 }, 'AGENT'],
    [{ remainingCpu: 127 }, 'RESOURCE:CPU'],
    [{ remainingMemory: 255 }, 'RESOURCE:MEMORY'],
    [{ remainingCpu: 0, remainingMemory: 0 }, 'RESOURCE:CPU'],
  ])('rejects %o with %s', (overrides, reason) => {
    const target = instance('ci-1', overrides);
    const result = placeTasks(request(), [target]);
    expect(result.placements).toEqual([]);
    expect(result.unplaced).toBe(1);
    expect(result.failures).toEqual([{ arn: target.arn, reason, detail: expect.any(String) }]);
  });

  it('accepts an instance with exactly the resources needed', () => {
    const result = placeTasks(request(), [instance('ci-1', { remainingCpu: 128, remainingMemory: 256 })]);
    expect(hosts(result)).toEqual(['ci-1']);
    expect(result.failures).toEqual([]);
  });

  it.each<[string, Partial<CandidateInstance>, TaskRequirements['ports'], PlacementFailureReason | 'placed']>(
    [
      [
        'the port is in use',
        { usedPorts: new Set(['tcp:8080']) },
        [{ hostPort: 8080, protocol: 'tcp' }],
        'RESOURCE:PORTS',
      ],
      ['a reserved port is asked for', {}, [{ hostPort: 22, protocol: 'tcp' }], 'RESOURCE:PORTS'],
      [
        'only the other protocol is taken',
        { usedPorts: new Set(['udp:8080']) },
        [{ hostPort: 8080, protocol: 'tcp' }],
        'placed',
      ],
      [
        'another port is taken',
        { usedPorts: new Set(['tcp:8081']) },
        [{ hostPort: 8080, protocol: 'tcp' }],
        'placed',
      ],
      // Ports come before CPU and memory.
      [
        'the port is in use and memory is short',
        { usedPorts: new Set(['udp:53']), remainingMemory: 0 },
        [{ hostPort: 53, protocol: 'udp' }],
        'RESOURCE:PORTS',
      ],
    ],
  )('ports: %s', (_, overrides, ports, expected) => {
    const result = placeTasks(request({ task: { ports } }), [instance('ci-1', overrides)]);
    if (expected === 'placed') expect(hosts(result)).toEqual(['ci-1']);
    else expect(reasons(result)).toEqual([expected]);
  });

  it('never binds a static port twice on one instance within a call', () => {
    const ports = [{ hostPort: 8080, protocol: 'tcp' as const }];
    const one = placeTasks(request({ count: 3, task: { ports } }), [
      instance('ci-1', { remainingMemory: 8192 }),
    ]);
    expect(hosts(one)).toEqual(['ci-1']);
    expect(one.unplaced).toBe(2);
    expect(one.failures).toEqual([
      expect.objectContaining({
        reason: 'RESOURCE:PORTS',
        detail: 'port 8080/tcp taken by a copy placed in this call',
      }),
    ]);

    const two = placeTasks(request({ count: 3, task: { ports } }), [instance('ci-1'), instance('ci-2')]);
    expect(hosts(two)).toEqual(['ci-1', 'ci-2']);
    expect(two.unplaced).toBe(1);
  });

  it('stacks copies without static ports on one instance', () => {
    const result = placeTasks(request({ count: 8 }), [instance('ci-1')]);
    expect(hosts(result)).toEqual(Array(8).fill('ci-1'));
  });

  it('refuses a task that asks for the same host port twice', () => {
    const ports = [
      { hostPort: 80, protocol: 'tcp' as const },
      { hostPort: 80, protocol: 'tcp' as const },
    ];
    const result = placeTasks(request({ task: { ports } }), [instance('ci-1')]);
    expect(reasons(result)).toEqual(['RESOURCE:PORTS']);
    expect(result.explanation).toBe(
      'No container instance met all requirements: 1 could not bind the same host port twice.',
    );
  });

  it('accounts for the memory and CPU taken by earlier copies of the same call', () => {
    const result = placeTasks(request({ count: 5, task: { cpu: 100, memory: 256 } }), [
      instance('ci-1', { remainingCpu: 4096, remainingMemory: 1000 }),
    ]);
    expect(hosts(result)).toEqual(['ci-1', 'ci-1', 'ci-1']);
    expect(result.unplaced).toBe(2);
    expect(result.failures).toEqual([
      expect.objectContaining({ reason: 'RESOURCE:MEMORY', detail: 'needs 256 MiB, 232 MiB free' }),
    ]);

    const cpu = placeTasks(request({ count: 3, task: { cpu: 400, memory: 1 } }), [instance('ci-1')]);
    expect(hosts(cpu)).toEqual(['ci-1', 'ci-1']);
    expect(cpu.failures[0]?.detail).toBe('needs 400 CPU units, 224 free');
  });

  it('memberOf keeps only matching instances and reports the rest as ATTRIBUTE', () => {
    const a = instance('ci-a', { attributes: { zone: 'a' } });
    const b = instance('ci-b', { attributes: { zone: 'b' } });
    const result = placeTasks(request({ count: 2, constraints: [memberOf('attribute:zone == b')] }), [a, b]);
    expect(hosts(result)).toEqual(['ci-b', 'ci-b']);

    const none = placeTasks(request({ constraints: [memberOf('attribute:zone == c')] }), [a, b]);
    expect(reasons(none)).toEqual(['ATTRIBUTE', 'ATTRIBUTE']);
    expect(none.failures[0]?.detail).toBe('does not match memberOf(attribute:zone == c)');
  });

  it('checks constraints before ports and resources', () => {
    const target = instance('ci-1', { usedPorts: new Set(['tcp:80']), remainingMemory: 0 });
    const result = placeTasks(
      request({
        constraints: [memberOf('attribute:gpu exists')],
        task: { ports: [{ hostPort: 80, protocol: 'tcp' }] },
      }),
      [target],
    );
    expect(reasons(result)).toEqual(['ATTRIBUTE']);
    expect(result.closest?.reasons).toEqual(['ATTRIBUTE', 'RESOURCE:PORTS', 'RESOURCE:MEMORY']);
  });

  it('re-evaluates a task:group expression once a copy lands on the instance', () => {
    // Anti-affinity with itself, written as a query instead of distinctInstance.
    const constraints = [memberOf('not(task:group == service:web)')];
    const result = placeTasks(request({ count: 3, constraints }), [instance('ci-1'), instance('ci-2')]);
    expect(hosts(result)).toEqual(['ci-1', 'ci-2']);
    expect(reasons(result)).toEqual(['ATTRIBUTE', 'ATTRIBUTE']);

    // Affinity with another group only depends on what already runs there.
    const db = instance('ci-db', { taskGroups: new Set(['service:db']) });
    const near = placeTasks(request({ count: 3, constraints: [memberOf('task:group == service:db')] }), [
      instance('ci-1'),
      db,
    ]);
    expect(hosts(near)).toEqual(['ci-db', 'ci-db', 'ci-db']);
  });

  it('distinctInstance puts each copy on its own instance, counting copies of this call', () => {
    const constraints: PlacementConstraint[] = [{ type: 'distinctInstance' }];
    const result = placeTasks(request({ count: 3, constraints }), [instance('ci-1'), instance('ci-2')]);
    expect(hosts(result)).toEqual(['ci-1', 'ci-2']);
    expect(result.unplaced).toBe(1);
    expect(result.failures).toEqual([
      expect.objectContaining({
        reason: 'ATTRIBUTE',
        detail: 'already runs a task of group service:web (distinctInstance)',
      }),
      expect.objectContaining({ reason: 'ATTRIBUTE' }),
    ]);
  });

  it.each<[string, Partial<CandidateInstance>, ReadonlyMap<string, number> | undefined, string[]]>([
    ['taskGroups holds the group', { taskGroups: new Set(['service:web']) }, undefined, ['ci-2']],
    ['existingGroupTasks counts it', {}, new Map([['ci-1', 2]]), ['ci-2']],
    ['only another group runs there', { taskGroups: new Set(['service:db']) }, undefined, ['ci-1', 'ci-2']],
  ])('distinctInstance skips an instance when %s', (_, overrides, existingGroupTasks, expected) => {
    const result = placeTasks(
      request({
        count: 2,
        constraints: [{ type: 'distinctInstance' }],
        ...(existingGroupTasks ? { existingGroupTasks } : {}),
      }),
      [instance('ci-1', overrides), instance('ci-2')],
    );
    expect(hosts(result)).toEqual(expected);
  });

  it('places nothing for a count of zero', () => {
    const result = placeTasks(request({ count: 0 }), [instance('ci-1')]);
    expect(result).toEqual({ placements: [], unplaced: 0, failures: [], explanation: 'Nothing to place.' });
  });
});

describe('taskRequirements', () => {
  it.each<[string, Parameters<typeof taskRequirements>[0], Omit<TaskRequirements, 'group'>]>([
    [
      'memoryReservation, when set, is what a container reserves',
      {
        containerDefinitions: [
          { cpu: 256, memory: 1024, memoryReservation: 256 },
          { cpu: 128, memory: 512 },
        ],
      },
      { cpu: 384, memory: 768, ports: [] },
    ],
    [
      'task-level cpu and memory win',
      { cpu: 1024, memory: 2048, containerDefinitions: [{ cpu: 256, memory: 512 }] },
      { cpu: 1024, memory: 2048, ports: [] },
    ],
    [
      'bridge: only non-zero host ports are static',
      {
        containerDefinitions: [
          {
            memory: 128,
            portMappings: [
              { containerPort: 80, hostPort: 8080 },
              { containerPort: 81, hostPort: 0 },
              { containerPort: 82 },
              { containerPort: 53, hostPort: 53, protocol: 'udp' },
            ],
          },
        ],
      },
      {
        cpu: 0,
        memory: 128,
        ports: [
          { hostPort: 8080, protocol: 'tcp' },
          { hostPort: 53, protocol: 'udp' },
        ],
      },
    ],
    [
      'host: the container port is the host port',
      {
        networkMode: 'host',
        containerDefinitions: [{ memory: 128, portMappings: [{ containerPort: 9000 }] }],
      },
      { cpu: 0, memory: 128, ports: [{ hostPort: 9000, protocol: 'tcp' }] },
    ],
    [
      'awsvpc: nothing is bound on the host',
      {
        networkMode: 'awsvpc',
        containerDefinitions: [{ memory: 128, portMappings: [{ containerPort: 80, hostPort: 80 }] }],
      },
      { cpu: 0, memory: 128, ports: [] },
    ],
  ])('%s', (_, definition, expected) => {
    expect(taskRequirements(definition, 'family:web')).toEqual({ ...expected, group: 'family:web' });
  });

  it('feeds placement: the soft limit is what fills an instance', () => {
    const task = taskRequirements(
      { containerDefinitions: [{ memory: 2048, memoryReservation: 300 }, { memory: 200 }] },
      'family:web',
    );
    const result = placeTasks({ task, count: 3, constraints: [], strategy: [], seed: 0 }, [
      instance('ci-1', { remainingMemory: 1000 }),
    ]);
    expect(hosts(result)).toEqual(['ci-1', 'ci-1']);
    expect(result.failures[0]?.detail).toBe('needs 500 MiB, 0 MiB free');
  });
});

describe('strategies', () => {
  const binpackMemory: PlacementStrategy = { type: 'binpack', field: 'memory' };
  const spreadZone: PlacementStrategy = { type: 'spread', field: 'attribute:zone' };
  const spreadInstance: PlacementStrategy = { type: 'spread', field: 'instanceId' };

  it('binpack fills the fullest instance first', () => {
    const fleet = [
      instance('ci-a', { remainingMemory: 2048 }),
      instance('ci-b', { remainingMemory: 1024 }),
      instance('ci-c', { remainingMemory: 4096 }),
    ];
    const result = placeTasks(request({ count: 5, strategy: [binpackMemory], task: { memory: 512 } }), fleet);
    expect(hosts(result)).toEqual(['ci-b', 'ci-b', 'ci-a', 'ci-a', 'ci-a']);
  });

  it('binpack on cpu looks at CPU only', () => {
    const fleet = [
      instance('ci-a', { remainingCpu: 300, remainingMemory: 100_000 }),
      instance('ci-b', { remainingCpu: 2000, remainingMemory: 300 }),
    ];
    const result = placeTasks(
      request({ count: 3, strategy: [{ type: 'binpack', field: 'cpu' }], task: { cpu: 100 } }),
      fleet,
    );
    expect(hosts(result)).toEqual(['ci-a', 'ci-a', 'ci-a']);
  });

  it.each<[string, PlacementStrategy]>([
    ['instanceId', spreadInstance],
    ['host', { type: 'spread', field: 'host' }],
  ])('spread over %s alternates hosts', (_, strategy) => {
    const fleet = [instance('ci-c'), instance('ci-a'), instance('ci-b')];
    expect(hosts(placeTasks(request({ count: 5, strategy: [strategy] }), fleet))).toEqual([
      'ci-a',
      'ci-b',
      'ci-c',
      'ci-a',
      'ci-b',
    ]);
  });

  it('spread counts the tasks already running', () => {
    const result = placeTasks(
      request({ count: 4, strategy: [spreadInstance], existingGroupTasks: new Map([['ci-a', 2]]) }),
      [instance('ci-a'), instance('ci-b'), instance('ci-c')],
    );
    expect(hosts(result)).toEqual(['ci-b', 'ci-c', 'ci-b', 'ci-c']);
  });

  const zoned = [
    instance('ci-a1', { attributes: { zone: 'a' } }),
    instance('ci-a2', { attributes: { zone: 'a' }, remainingMemory: 1024 }),
    instance('ci-b1', { attributes: { zone: 'b' } }),
    instance('ci-b2', { attributes: { zone: 'b' }, remainingMemory: 1024 }),
  ];

  it.each<[string, PlacementStrategy[], string[]]>([
    ['zones alone: the id breaks ties inside a zone', [spreadZone], ['ci-a1', 'ci-b1', 'ci-a1', 'ci-b1']],
    ['zones, then hosts', [spreadZone, spreadInstance], ['ci-a1', 'ci-b1', 'ci-a2', 'ci-b2']],
    [
      'zones, then binpack inside each zone',
      [spreadZone, binpackMemory],
      ['ci-a2', 'ci-b2', 'ci-a2', 'ci-b2'],
    ],
    [
      'binpack first: spread only sees its exact ties',
      [binpackMemory, spreadZone],
      ['ci-a2', 'ci-a2', 'ci-a2', 'ci-a2'],
    ],
  ])('%s', (_, strategy, expected) => {
    expect(hosts(placeTasks(request({ count: 4, strategy }), zoned))).toEqual(expected);
  });

  it('a later strategy breaks the ties of an earlier one', () => {
    // ci-a2 and ci-b2 tie on memory; zone a already runs a task, so zone b wins the tie.
    const existingGroupTasks = new Map([['ci-a1', 1]]);
    const result = placeTasks(
      request({ count: 2, strategy: [binpackMemory, spreadZone], existingGroupTasks }),
      zoned,
    );
    expect(hosts(result)).toEqual(['ci-b2', 'ci-b2']);
  });

  it('a later spread over an attribute that crosses zones sees copies placed in other zones', () => {
    const racks = [
      instance('ci-a1', { attributes: { zone: 'a', rack: 'r1' } }),
      instance('ci-a2', { attributes: { zone: 'a', rack: 'r2' } }),
      instance('ci-b1', { attributes: { zone: 'b', rack: 'r1' } }),
      instance('ci-b2', { attributes: { zone: 'b', rack: 'r2' } }),
    ];
    const strategy: PlacementStrategy[] = [spreadZone, { type: 'spread', field: 'attribute:rack' }];
    expect(hosts(placeTasks(request({ count: 4, strategy }), racks))).toEqual([
      'ci-a1',
      'ci-b2',
      'ci-a1',
      'ci-b2',
    ]);
  });

  it('random after spread keeps the zones even and replays from the seed', () => {
    const fleet = ['a', 'b', 'c'].flatMap((zone) =>
      [1, 2, 3, 4].map((n) => instance(`ci-${zone}${n}`, { attributes: { zone }, remainingMemory: 100_000 })),
    );
    const run = (seed: number) =>
      hosts(placeTasks(request({ count: 9, strategy: [spreadZone, { type: 'random' }], seed }), fleet));
    for (let seed = 0; seed < 10; seed++) {
      const perZone = new Map<string, number>();
      for (const id of run(seed)) perZone.set(id.charAt(3), (perZone.get(id.charAt(3)) ?? 0) + 1);
      expect([...perZone.values()]).toEqual([3, 3, 3]);
      expect(run(seed)).toEqual(run(seed));
    }
    expect(new Set(Array.from({ length: 10 }, (_, seed) => run(seed).join())).size).toBeGreaterThan(1);
  });

  it('random picks every tied instance equally often, also across zones of different sizes', () => {
    // Zone a has one instance and zone b three; with both zones tied, each instance should get a quarter.
    const uneven = [
      instance('ci-a1', { attributes: { zone: 'a' } }),
      ...[1, 2, 3].map((n) => instance(`ci-b${n}`, { attributes: { zone: 'b' } })),
    ];
    const tally = new Map<string, number>();
    for (let seed = 0; seed < 400; seed++) {
      const [first] = hosts(
        placeTasks(request({ strategy: [spreadZone, { type: 'random' }], seed }), uneven),
      );
      if (first !== undefined) tally.set(first, (tally.get(first) ?? 0) + 1);
    }
    expect(tally.size).toBe(4);
    for (const times of tally.values()) {
      expect(times).toBeGreaterThan(60);
      expect(times).toBeLessThan(140);
    }
  });

  it('spread over an attribute puts instances without it in one bucket of their own', () => {
    const fleet = [instance('ci-1', { attributes: { zone: 'a' } }), instance('ci-2'), instance('ci-3')];
    const result = placeTasks(
      request({ count: 4, strategy: [spreadZone], existingGroupTasks: new Map([['ci-2', 1]]) }),
      fleet,
    );
    expect(hosts(result)).toEqual(['ci-1', 'ci-1', 'ci-2', 'ci-1']);
  });

  it('spread ignores tasks on draining instances, which are about to move', () => {
    const fleet = [
      instance('ci-a1', { attributes: { zone: 'a' }, status: 'DRAINING' }),
      instance('ci-a2', { attributes: { zone: 'a' } }),
      instance('ci-b1', { attributes: { zone: 'b' } }),
    ];
    const result = placeTasks(
      request({ count: 2, strategy: [spreadZone], existingGroupTasks: new Map([['ci-a1', 5]]) }),
      fleet,
    );
    expect(hosts(result)).toEqual(['ci-a2', 'ci-b1']);
  });

  it('spread still places when the emptiest zone has no room', () => {
    const fleet = [
      instance('ci-a1', { attributes: { zone: 'a' }, remainingMemory: 0 }),
      instance('ci-b1', { attributes: { zone: 'b' } }),
    ];
    expect(hosts(placeTasks(request({ count: 2, strategy: [spreadZone] }), fleet))).toEqual([
      'ci-b1',
      'ci-b1',
    ]);
  });

  const fleet = ['ci-1', 'ci-2', 'ci-3', 'ci-4'].map((id) => instance(id, { remainingMemory: 100_000 }));

  it('random is the same for the same seed and differs between seeds', () => {
    const run = (seed: number) =>
      hosts(placeTasks(request({ count: 12, strategy: [{ type: 'random' }], seed }), fleet));
    expect(run(42)).toEqual(run(42));
    const outcomes = new Set(Array.from({ length: 10 }, (_, seed) => run(seed).join()));
    expect(outcomes.size).toBeGreaterThan(1);
    expect(new Set(Array.from({ length: 10 }, (_, seed) => run(seed)).flat())).toEqual(
      new Set(['ci-1', 'ci-2', 'ci-3', 'ci-4']),
    );
  });

  it('random only breaks the ties left by the strategies before it', () => {
    for (let seed = 0; seed < 20; seed++) {
      const result = placeTasks(
        request({ count: 4, strategy: [spreadInstance, { type: 'random' }], seed }),
        fleet,
      );
      expect([...hosts(result)].sort()).toEqual(['ci-1', 'ci-2', 'ci-3', 'ci-4']);
    }
  });

  it('strategies after random never matter', () => {
    const a = placeTasks(request({ count: 6, strategy: [{ type: 'random' }], seed: 7 }), fleet);
    const b = placeTasks(
      request({ count: 6, strategy: [{ type: 'random' }, binpackMemory], seed: 7 }),
      fleet,
    );
    expect(hosts(a)).toEqual(hosts(b));
  });

  it('without strategies the lowest instance id wins, whatever the input order', () => {
    const result = placeTasks(request({ count: 2 }), [instance('ci-b'), instance('ci-a'), instance('ci-10')]);
    expect(hosts(result)).toEqual(['ci-10', 'ci-10']);
  });
});

describe('explaining a failure', () => {
  it('sums up the rejections in one sentence, most common first', () => {
    const fleet = [
      instance('ci-1', { remainingMemory: 256 }),
      instance('ci-2', { remainingMemory: 128 }),
      instance('ci-3', { agentConnected: false }),
      instance('ci-4', { status: 'DRAINING' }),
    ];
    const result = placeTasks(request({ task: { memory: 512 } }), fleet);
    expect(result.explanation).toBe(
      'No container instance met all requirements: 2 lacked memory (needs 512 MiB, most free 256 MiB on ci-1), 1 draining, 1 agent disconnected.',
    );
    expect(reasons(result)).toEqual(['RESOURCE:MEMORY', 'RESOURCE:MEMORY', 'AGENT', 'DRAINING']);
    expect(result.failures[0]).toEqual({
      arn: 'arn:aws:ecs:local:000000000000:container-instance/default/ci-1',
      reason: 'RESOURCE:MEMORY',
      detail: 'needs 512 MiB, 256 MiB free',
    });
    // Both memory-short instances fail one check; the lower id is named.
    expect(result.closest).toEqual({
      instanceId: 'ci-1',
      arn: 'arn:aws:ecs:local:000000000000:container-instance/default/ci-1',
      reasons: ['RESOURCE:MEMORY'],
      lacking: 'has insufficient memory available',
    });
  });

  it('says how many were placed before the cluster ran out', () => {
    const result = placeTasks(request({ count: 3, task: { cpu: 512 } }), [instance('ci-1')]);
    expect(result.explanation).toBe(
      'Placed 2 of 3 tasks; no container instance met all requirements for the other 1: 1 lacked CPU (needs 512 units, most free 0 on ci-1).',
    );
    expect(result.closest?.lacking).toBe('has insufficient CPU units available');
  });

  it.each<[string, CandidateInstance[], Partial<TaskRequirements>, PlacementConstraint[], string]>([
    [
      'an empty cluster',
      [],
      {},
      [],
      'No container instance met all requirements: the cluster has no container instances.',
    ],
    [
      'ports in use',
      [instance('ci-1', { usedPorts: new Set(['tcp:80']) }), instance('ci-2', { status: 'INACTIVE' })],
      { ports: [{ hostPort: 80, protocol: 'tcp' }] },
      [],
      'No container instance met all requirements: 1 inactive, 1 had port 80/tcp in use.',
    ],
    [
      'memberOf and registering instances',
      [instance('ci-1'), instance('ci-2'), instance('ci-3', { status: 'REGISTERING' })],
      {},
      [memberOf('attribute:gpu exists')],
      'No container instance met all requirements: 2 did not match the memberOf constraint, 1 registering.',
    ],
    [
      'distinctInstance',
      [instance('ci-1', { taskGroups: new Set(['service:web']) })],
      {},
      [{ type: 'distinctInstance' }],
      'No container instance met all requirements: 1 already ran a task of group service:web (distinctInstance).',
    ],
  ])('%s', (_, fleet, task, constraints, sentence) => {
    expect(placeTasks(request({ task, constraints }), fleet).explanation).toBe(sentence);
  });

  it('describes a success too', () => {
    const result = placeTasks(request({ count: 3, strategy: [{ type: 'spread', field: 'instanceId' }] }), [
      instance('ci-1'),
      instance('ci-2'),
    ]);
    expect(result.explanation).toBe('Placed 3 tasks on 2 container instances.');
    expect(result.closest).toBeUndefined();
  });

  it('closest prefers fewer failed checks, then an instance that is not going away', () => {
    const fleet = [
      instance('ci-1', { remainingCpu: 0, remainingMemory: 0 }),
      instance('ci-2', { status: 'DRAINING' }),
      instance('ci-3', { remainingMemory: 0 }),
    ];
    const result = placeTasks(request(), fleet);
    expect(result.closest).toMatchObject({ instanceId: 'ci-3', reasons: ['RESOURCE:MEMORY'] });

    const drainingOnly = placeTasks(request(), [instance('ci-1', { status: 'DRAINING' })]);
    expect(drainingOnly.closest).toMatchObject({ instanceId: 'ci-1', lacking: 'is draining' });

    const both = placeTasks(request(), [instance('ci-1', { remainingCpu: 0, remainingMemory: 0 })]);
    expect(both.closest?.lacking).toBe(
      'has insufficient CPU units available and has insufficient memory available',
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Properties, checked against a deliberately naive model of the rules.

const PORTS = [
  { hostPort: 80, protocol: 'tcp' as const },
  { hostPort: 8080, protocol: 'tcp' as const },
  { hostPort: 53, protocol: 'udp' as const },
];
const portKey = (p: { hostPort: number; protocol: string }) => `${p.protocol}:${p.hostPort}`;

const EXPRESSIONS = [
  'attribute:zone != c',
  'not(task:group == service:web)',
  'task:group != service:db or attribute:zone == a',
  'runningTasksCount < 4',
];

const SPREADS: PlacementStrategy[] = [
  { type: 'spread', field: 'instanceId' },
  { type: 'spread', field: 'attribute:zone' },
  { type: 'spread', field: 'attribute:rack' },
];
const strategyArb = fc.constantFrom<PlacementStrategy>(
  { type: 'binpack', field: 'cpu' },
  { type: 'binpack', field: 'memory' },
  ...SPREADS,
  { type: 'random' },
);

const instancesArb = fc
  .array(
    fc.record({
      status: fc.oneof(
        { arbitrary: fc.constant<CandidateInstance['status']>('ACTIVE'), weight: 6 },
        fc.constantFrom<CandidateInstance['status']>('DRAINING', 'INACTIVE', 'REGISTERING'),
      ),
      agentConnected: fc.oneof({ arbitrary: fc.constant(true), weight: 5 }, fc.constant(false)),
      remainingCpu: fc.integer({ min: 0, max: 4096 }),
      remainingMemory: fc.integer({ min: 0, max: 8192 }),
      usedPorts: fc.subarray(['tcp:22', 'tcp:80', 'tcp:8080', 'udp:53']),
      zone: fc.constantFrom('a', 'b', 'c', undefined),
      rack: fc.constantFrom('r1', 'r2'),
      taskGroups: fc.subarray(['service:web', 'service:db']),
      runningTasksCount: fc.nat(6),
      existing: fc.nat(3),
    }),
    { maxLength: 10 },
  )
  .map((rows) =>
    rows.map((row, i) => ({
      instance: instance(`ci-${i}`, {
        status: row.status,
        agentConnected: row.agentConnected,
        remainingCpu: row.remainingCpu,
        remainingMemory: row.remainingMemory,
        usedPorts: new Set(row.usedPorts),
        attributes: row.zone === undefined ? { rack: row.rack } : { zone: row.zone, rack: row.rack },
        taskGroups: new Set(row.taskGroups),
        runningTasksCount: row.runningTasksCount,
      }),
      existing: row.existing,
    })),
  );

const requestArb = fc.record({
  cpu: fc.integer({ min: 0, max: 1024 }),
  memory: fc.integer({ min: 0, max: 2048 }),
  ports: fc.oneof(fc.constant([]), fc.subarray(PORTS)),
  group: fc.constantFrom('service:web', 'service:db'),
  count: fc.nat(16),
  distinct: fc.oneof({ arbitrary: fc.constant(false), weight: 3 }, fc.constant(true)),
  expressions: fc.subarray(EXPRESSIONS, { maxLength: 2 }),
  // A leading spread is the services' default and the path with the most state, so it comes up often.
  strategy: fc.oneof(
    fc.array(strategyArb, { maxLength: 3 }),
    fc
      .tuple(fc.constantFrom<PlacementStrategy>(...SPREADS), fc.array(strategyArb, { maxLength: 2 }))
      .map(([first, others]) => [first, ...others]),
  ),
  seed: fc.integer(),
});

const scenarioArb = fc.tuple(instancesArb, requestArb).map(([rows, r]) => {
  const placementRequest: PlacementRequest = {
    task: { cpu: r.cpu, memory: r.memory, ports: r.ports, group: r.group },
    count: r.count,
    constraints: [
      ...(r.distinct ? [{ type: 'distinctInstance' as const }] : []),
      ...r.expressions.map(memberOf),
    ],
    strategy: r.strategy,
    seed: r.seed,
    existingGroupTasks: new Map(rows.map((row) => [row.instance.instanceId, row.existing])),
  };
  return { request: placementRequest, instances: rows.map((row) => row.instance) };
});

/** The state of one instance as the rules see it after some copies of the call. */
interface Model {
  instance: CandidateInstance;
  cpu: number;
  memory: number;
  groupTasks: number;
  placed: number;
  groups: Set<string>;
}

function initialModel(req: PlacementRequest, instances: readonly CandidateInstance[]): Map<string, Model> {
  return new Map(
    instances.map((i) => [
      i.instanceId,
      {
        instance: i,
        cpu: i.remainingCpu,
        memory: i.remainingMemory,
        groupTasks: Math.max(
          req.existingGroupTasks?.get(i.instanceId) ?? 0,
          i.taskGroups.has(req.task.group) ? 1 : 0,
        ),
        placed: 0,
        groups: new Set(i.taskGroups),
      },
    ]),
  );
}

/** The first failing check, in filter order, or undefined when one more copy fits. */
function firstFailure(req: PlacementRequest, m: Model): PlacementFailureReason | undefined {
  const { task } = req;
  if (m.instance.status === 'DRAINING') return 'DRAINING';
  if (m.instance.status !== 'ACTIVE') return 'INACTIVE';
  if (!m.instance.agentConnected) return 'AGENT';
  for (const c of req.constraints) {
    if (c.type === 'distinctInstance' && m.groupTasks > 0) return 'ATTRIBUTE';
    if (
      c.type === 'memberOf' &&
      !evaluateClusterQuery(c.expression, { ...m.instance, taskGroups: m.groups })
    ) {
      return 'ATTRIBUTE';
    }
  }
  const keys = task.ports.map(portKey);
  if (new Set(keys).size !== keys.length) return 'RESOURCE:PORTS';
  if (keys.some((k) => m.instance.usedPorts.has(k)) || (keys.length > 0 && m.placed > 0))
    return 'RESOURCE:PORTS';
  if (m.cpu < task.cpu) return 'RESOURCE:CPU';
  if (m.memory < task.memory) return 'RESOURCE:MEMORY';
  return undefined;
}

function spreadValue(m: Model, field: string): string {
  if (field === 'instanceId' || field === 'host') return `id:${m.instance.instanceId}`;
  const value = m.instance.attributes[field.slice('attribute:'.length)];
  return value === undefined ? 'missing' : `value:${value}`;
}

/** The ranking key of an instance under the strategies before the first random one. */
function rankKey(req: PlacementRequest, models: readonly Model[], m: Model): number[] {
  const key: number[] = [];
  for (const s of req.strategy) {
    if (s.type === 'random') break;
    if (s.type === 'binpack') key.push(s.field === 'cpu' ? m.cpu : m.memory);
    else {
      const value = spreadValue(m, s.field);
      key.push(
        models
          .filter((o) => o.instance.status === 'ACTIVE' && spreadValue(o, s.field) === value)
          .reduce((sum, o) => sum + o.groupTasks, 0),
      );
    }
  }
  return key;
}

const compareKeys = (a: number[], b: number[]) => {
  for (let i = 0; i < a.length; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
};

describe('properties', () => {
  it('never over-commits CPU, memory or ports of any instance', () => {
    fc.assert(
      fc.property(scenarioArb, ({ request: req, instances }) => {
        const result = placeTasks(req, instances);
        const perInstance = new Map<string, number>();
        for (const p of result.placements)
          perInstance.set(p.instanceId, (perInstance.get(p.instanceId) ?? 0) + 1);
        for (const [id, copies] of perInstance) {
          const i = instances.find((x) => x.instanceId === id);
          expect(i).toBeDefined();
          if (i === undefined) continue;
          expect(copies * req.task.cpu).toBeLessThanOrEqual(i.remainingCpu);
          expect(copies * req.task.memory).toBeLessThanOrEqual(i.remainingMemory);
          if (req.task.ports.length > 0) {
            expect(copies).toBe(1);
            for (const p of req.task.ports) expect(i.usedPorts.has(portKey(p))).toBe(false);
          }
        }
      }),
    );
  });

  it('is a function of its input: same seed, same result, whatever the instance order', () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer(), ({ request: req, instances }, shuffleSeed) => {
        const first = placeTasks(req, instances);
        expect(placeTasks(req, instances)).toEqual(first);
        const shuffled = [...instances].sort(
          (a, b) => hash(a.instanceId, shuffleSeed) - hash(b.instanceId, shuffleSeed),
        );
        expect(placeTasks(req, shuffled)).toEqual(first);
      }),
    );
  });

  it('places every copy where all filters pass, on the instance the strategies rank first', () => {
    fc.assert(
      fc.property(scenarioArb, ({ request: req, instances }) => {
        const result = placeTasks(req, instances);
        const models = initialModel(req, instances);
        const all = [...models.values()];
        const random = req.strategy.some((s) => s.type === 'random');
        for (const p of result.placements) {
          const chosen = models.get(p.instanceId);
          expect(chosen).toBeDefined();
          if (chosen === undefined) return;
          expect(firstFailure(req, chosen)).toBeUndefined();
          const feasible = all.filter((m) => firstFailure(req, m) === undefined);
          const chosenKey = rankKey(req, all, chosen);
          for (const other of feasible) {
            const order = compareKeys(rankKey(req, all, other), chosenKey);
            expect(order).toBeGreaterThanOrEqual(0);
            if (order === 0 && !random)
              expect(other.instance.instanceId >= chosen.instance.instanceId).toBe(true);
          }
          chosen.cpu -= req.task.cpu;
          chosen.memory -= req.task.memory;
          chosen.groupTasks += 1;
          chosen.placed += 1;
          chosen.groups.add(req.task.group);
        }
        expect(result.placements.length + result.unplaced).toBe(req.count);
        if (result.unplaced > 0) {
          // Nothing could have taken one more copy, and each instance says why.
          expect(all.every((m) => firstFailure(req, m) !== undefined)).toBe(true);
          const sorted = [...all].sort((a, b) => (a.instance.instanceId < b.instance.instanceId ? -1 : 1));
          expect(result.failures.map((f) => [f.arn, f.reason])).toEqual(
            sorted.map((m) => [m.instance.arn, firstFailure(req, m)]),
          );
          expect(result.explanation).toMatch(/^(No container instance|Placed \d+ of \d+ tasks?;).*\.$/);
          if (all.length > 0) expect(result.closest).toBeDefined();
        } else {
          expect(result.failures).toEqual([]);
        }
      }),
      { numRuns: 500 },
    );
  });
});

/** A cheap deterministic shuffle key, so the shuffle itself is replayable. */
function hash(text: string, seed: number): number {
  let h = seed | 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x5bd1e995);
  return h ^ (h >>> 13);
}

describe('scale', () => {
  it('places 10,000 copies over 1,000 instances with spread, binpack and memberOf', () => {
    const zones = ['zone-a', 'zone-b', 'zone-c'];
    const fleet = Array.from({ length: 1000 }, (_, i) =>
      instance(`ci-${String(i).padStart(4, '0')}`, {
        remainingCpu: 4096,
        remainingMemory: 4096,
        attributes: { zone: zones[i % 3], 'bosun.os-type': i % 10 === 9 ? 'windows' : 'linux' },
      }),
    );
    const result = placeTasks(
      {
        task: { cpu: 64, memory: 256, ports: [], group: 'service:web' },
        count: 10_000,
        constraints: [memberOf('attribute:bosun.os-type == linux')],
        strategy: [
          { type: 'spread', field: 'attribute:zone' },
          { type: 'binpack', field: 'memory' },
        ],
        seed: 1,
      },
      fleet,
    );
    expect(result.placements).toHaveLength(10_000);
    const perZone = new Map<string, number>();
    const byId = new Map(fleet.map((i) => [i.instanceId, i]));
    for (const p of result.placements) {
      const zone = byId.get(p.instanceId)?.attributes.zone ?? '';
      perZone.set(zone, (perZone.get(zone) ?? 0) + 1);
    }
    const counts = [...perZone.values()];
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    // binpack fills an instance (16 copies of 256 MiB) before opening the next one in its zone.
    const opened = counts.reduce((sum, n) => sum + Math.ceil(n / 16), 0);
    expect(new Set(result.placements.map((p) => p.instanceId)).size).toBe(opened);
  });
});
