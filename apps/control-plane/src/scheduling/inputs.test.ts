import {
  parseRegisterTaskDefinition,
  RegisterTaskDefinitionInput,
  type TaskDefinitionSpec,
} from '@bosun/model';
import { describe, expect, it } from 'vitest';
import { recheckPlan } from './apply-plan.ts';
import {
  agentConnected,
  applyOverrides,
  compileStoredConstraints,
  type DrainingTask,
  drainProgress,
  hostLossOf,
  type InstanceSnapshot,
  recovering,
  requirementsOf,
  serviceConstraints,
  serviceDeletedReason,
} from './inputs.ts';

const spec = (input: object): TaskDefinitionSpec =>
  parseRegisterTaskDefinition(RegisterTaskDefinitionInput.parse(input)).spec;

const web = spec({
  family: 'web',
  placementConstraints: [{ type: 'memberOf', expression: 'attribute:zone == a' }],
  containerDefinitions: [
    {
      name: 'app',
      image: 'busybox',
      cpu: 128,
      memory: 256,
      command: ['httpd'],
      environment: [
        { name: 'A', value: '1' },
        { name: 'B', value: '2' },
      ],
      portMappings: [{ containerPort: 80, hostPort: 8080 }],
    },
    { name: 'side', image: 'busybox', memory: 64 },
  ],
});

describe('agentConnected', () => {
  const now = new Date(100_000);
  it.each([
    ['never heard from', null, false],
    ['just now', new Date(100_000), true],
    ['one ms inside the timeout', new Date(100_000 - 9_999), true],
    ['exactly the timeout ago', new Date(100_000 - 10_000), false],
    ['long ago', new Date(0), false],
  ])('%s → %s', (_, contact, expected) => {
    expect(agentConnected(contact, now, 10_000)).toBe(expected);
  });
});

describe('recovering', () => {
  const settings = { agentTimeoutMs: 10_000, heartbeatIntervalMs: 5_000 };
  it.each([
    ['just started', 0, 100, true],
    ['one agent timeout after', 0, 10_000, true],
    ['a heartbeat short of timeout + interval', 1_000, 15_999, true],
    ['timeout + interval after', 1_000, 16_000, false],
    ['long after', 0, 3600_000, false],
  ])('%s', (_, blindUntil, now, expected) => {
    expect(recovering(blindUntil, now, settings)).toBe(expected);
  });
});

describe('hostLossOf', () => {
  const snap = (id: string, connected: boolean, wantedTasks: number) =>
    ({ row: { id }, candidate: { agentConnected: connected }, wantedTasks }) as unknown as InstanceSnapshot;
  it('declares a silent host with tasks lost among connected ones', () => {
    const verdict = hostLossOf([snap('a', true, 1), snap('b', true, 1), snap('c', false, 2)], false);
    expect(verdict).toEqual({ kind: 'lost', instanceIds: ['c'] });
  });
  it('withholds while recovering, and when most of the cluster is silent', () => {
    const cluster = [snap('a', true, 1), snap('b', false, 1), snap('c', false, 2)];
    expect(hostLossOf(cluster, true)).toMatchObject({ kind: 'withheld', reason: 'recovering' });
    expect(hostLossOf(cluster, false)).toMatchObject({
      kind: 'withheld',
      reason: 'partition',
      silentInstanceIds: ['b', 'c'],
      of: 3,
    });
  });
});

describe('drainProgress', () => {
  const now = new Date(100_000);
  const live = new Date(99_000);
  const silent = new Date(0);
  const t = (lastStatus: DrainingTask['lastStatus'], instance: Partial<DrainingTask> = {}): DrainingTask => ({
    lastStatus,
    instanceStatus: 'ACTIVE',
    instanceContactAt: live,
    ...instance,
  });
  it.each<[string, DrainingTask[], ReturnType<typeof drainProgress>]>([
    ['no task left', [], { stopping: 0, running: 0, pending: 0, inactive: true }],
    ['all STOPPED', [t('STOPPED'), t('STOPPED')], { stopping: 0, running: 0, pending: 0, inactive: true }],
    [
      'one running on a live host holds it',
      [t('RUNNING'), t('PENDING'), t('STOPPED')],
      { stopping: 2, running: 1, pending: 1, inactive: false },
    ],
    [
      'tasks on a silent or deregistered host do not',
      [t('RUNNING', { instanceContactAt: silent }), t('RUNNING', { instanceStatus: 'INACTIVE' })],
      { stopping: 0, running: 0, pending: 0, inactive: true },
    ],
    [
      'a task never placed does not',
      [t('PROVISIONING', { instanceStatus: null, instanceContactAt: null })],
      {
        stopping: 0,
        running: 0,
        pending: 0,
        inactive: true,
      },
    ],
  ])('%s', (_, list, expected) => {
    expect(drainProgress(list, now, 10_000)).toEqual(expected);
  });
});

describe('service constraints', () => {
  it("are the service's own, then the revision's memberOf ones", () => {
    const merged = serviceConstraints([{ type: 'memberOf', expression: 'attribute:disk == ssd' }], web);
    expect(merged).toEqual([
      { type: 'memberOf', expression: 'attribute:disk == ssd' },
      { type: 'memberOf', expression: 'attribute:zone == a' },
    ]);
    expect(serviceConstraints([{ type: 'distinctInstance' }], undefined)).toEqual([
      { type: 'distinctInstance' },
    ]);
  });

  it('compile once each, and a stored text that no longer parses is a bug that throws', () => {
    const compiled = compileStoredConstraints([
      { type: 'distinctInstance' },
      { type: 'memberOf', expression: 'attribute:zone == a' },
    ]);
    expect(compiled.map((c) => c.type)).toEqual(['distinctInstance', 'memberOf']);
    expect(() => compileStoredConstraints([{ type: 'memberOf', expression: 'attribute:zone ==' }])).toThrow(
      /stored memberOf expression does not parse/,
    );
  });
});

describe('applyOverrides', () => {
  it('is the spec itself without overrides', () => {
    expect(applyOverrides(web, [])).toBe(web);
  });

  it('replaces command and sizes, adds or replaces variables by name, leaves other containers alone', () => {
    const out = applyOverrides(web, [
      {
        name: 'app',
        command: ['sleep', '1'],
        environment: [
          { name: 'B', value: 'x' },
          { name: 'C', value: '3' },
        ],
        cpu: 64,
        memory: 512,
      },
    ]);
    const [app, side] = out.containerDefinitions;
    expect(app?.command).toEqual(['sleep', '1']);
    expect(app?.environment).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: 'x' },
      { name: 'C', value: '3' },
    ]);
    expect([app?.cpu, app?.memory]).toEqual([64, 512]);
    expect(side).toBe(web.containerDefinitions[1]);
    expect(requirementsOf(out, 'family:web')).toMatchObject({ cpu: 64, memory: 576, group: 'family:web' });
  });
});

describe('recheckPlan', () => {
  const instance = (
    id: string,
    o: Partial<InstanceSnapshot['candidate']> = {},
    groups: [string, number][] = [],
  ) =>
    ({
      row: { id },
      candidate: {
        instanceId: id,
        arn: id,
        status: 'ACTIVE',
        agentConnected: true,
        remainingCpu: 1024,
        remainingMemory: 1024,
        usedPorts: new Set<string>(),
        ...o,
      },
      groupCounts: new Map(groups),
    }) as unknown as InstanceSnapshot;
  const task = (instanceId: string, cpu = 256, memory = 256, ports: number[] = [], group = 'g') => ({
    instanceId,
    requirements: {
      cpu,
      memory,
      group,
      ports: ports.map((hostPort) => ({ hostPort, protocol: 'tcp' as const })),
    },
  });

  it.each<[string, ReturnType<typeof task>[], InstanceSnapshot[], boolean, string | undefined]>([
    ['fits', [task('a'), task('a')], [instance('a')], false, undefined],
    ['the host is gone', [task('a')], [], false, 'a is gone'],
    ['the host is draining', [task('a')], [instance('a', { status: 'DRAINING' })], false, 'a is DRAINING'],
    [
      'its agent went silent',
      [task('a')],
      [instance('a', { agentConnected: false })],
      false,
      'a lost its agent',
    ],
    [
      'not enough CPU for both',
      [task('a', 600), task('a', 600)],
      [instance('a')],
      false,
      'a has 1024 CPU units left',
    ],
    ['not enough memory', [task('a', 1, 2000)], [instance('a')], false, 'a has 1024 MiB left'],
    [
      'a port taken meanwhile',
      [task('a', 1, 1, [80])],
      [instance('a', { usedPorts: new Set(['tcp:80']) })],
      false,
      'a port tcp:80 taken',
    ],
    [
      'one port twice in the plan',
      [task('a', 1, 1, [80]), task('a', 1, 1, [80])],
      [instance('a')],
      false,
      'a port tcp:80 taken',
    ],
    [
      'distinctInstance: a task of the group arrived',
      [task('a')],
      [instance('a', {}, [['g', 1]])],
      true,
      'a got a task of g',
    ],
    [
      'distinctInstance: two of the group in the plan',
      [task('a'), task('a')],
      [instance('a')],
      true,
      'a would get two tasks of g',
    ],
  ])('%s', (_, planned, fresh, distinct, why) => {
    expect(recheckPlan(planned, fresh, distinct)).toBe(why);
  });
});

describe('serviceDeletedReason', () => {
  it('names the PRIMARY deployment, else says the service was deleted', () => {
    expect(
      serviceDeletedReason([
        { id: 'ecs-svc/1', status: 'ACTIVE' },
        { id: 'ecs-svc/2', status: 'PRIMARY' },
      ]),
    ).toContain('ecs-svc/2');
    expect(serviceDeletedReason([])).toBe('Service deleted');
  });
});
