import { describe, expect, it } from 'vitest';
import {
  buildContainerSpec,
  buildNetworkContainerSpec,
  containerName,
  networkContainerName,
  volumeRequirements,
} from './container-spec.ts';
import { normalizeImageRef, registryServerAddress } from './image-ref.ts';
import { dockerTime, toObservedContainer } from './observe.ts';
import { testContainer, testTask } from './test-task.ts';

const TASK_ID = '0123456789abcdef0123456789abcdef';
const ctx = { instanceId: 'inst-1', hostIp: '127.0.0.1' };

function spec(
  container: Parameters<typeof testContainer>[0],
  overrides: Parameters<typeof testTask>[2] = {},
) {
  const c = testContainer(container);
  return buildContainerSpec(testTask(TASK_ID, [c], overrides), c, ctx);
}

describe('buildContainerSpec', () => {
  it('names containers deterministically', () => {
    expect(spec({ name: 'web' }).name).toBe(`bosun-${TASK_ID}-web`);
    expect(containerName('t', 'x')).toBe('bosun-t-x');
    expect(networkContainerName('t')).toBe('bosun-t-network');
  });

  it('applies system labels after user labels', () => {
    const labels = spec({
      name: 'web',
      dockerLabels: { team: 'a', 'bosun.task-id': 'fake', 'bosun.managed': 'false', 'bosun.ports': '1/tcp' },
    }).options.Labels;
    expect(labels).toEqual({
      team: 'a',
      'bosun.managed': 'true',
      'bosun.instance-id': 'inst-1',
      'bosun.task-id': TASK_ID,
      'bosun.container-name': 'web',
      'bosun.task-arn': `arn:aws:ecs:local:000000000000:task/default/${TASK_ID}`,
      'bosun.cluster-arn': 'arn:aws:ecs:local:000000000000:cluster/default',
      'com.amazonaws.ecs.task-arn': `arn:aws:ecs:local:000000000000:task/default/${TASK_ID}`,
      'com.amazonaws.ecs.container-name': 'web',
      'com.amazonaws.ecs.task-definition-family': 'web',
      'com.amazonaws.ecs.task-definition-version': '3',
      'com.amazonaws.ecs.cluster': 'default',
    });
  });

  it.each([
    { cpu: 0, shares: 2 },
    { cpu: 1, shares: 2 },
    { cpu: 256, shares: 256 },
  ])('cpu $cpu → CpuShares $shares', ({ cpu, shares }) => {
    expect(spec({ name: 'c', cpu }).options.HostConfig?.CpuShares).toBe(shares);
  });

  it.each([
    { taskCpu: undefined, nano: undefined },
    { taskCpu: '512', nano: 500_000_000 },
    { taskCpu: '2 vCPU', nano: 2_000_000_000 },
  ])('task cpu $taskCpu → NanoCpus $nano', ({ taskCpu, nano }) => {
    expect(spec({ name: 'c' }, { cpu: taskCpu }).options.HostConfig?.NanoCpus).toBe(nano);
  });

  it('maps memory, process and security settings', () => {
    const s = spec({
      name: 'c',
      memory: 128,
      memoryReservation: 64,
      environment: [{ name: 'A', value: '1' }],
      entryPoint: ['sh', '-c'],
      command: ['echo hi'],
      workingDirectory: '/srv',
      user: '1000:1000',
      ulimits: [{ name: 'nofile', softLimit: 1024, hardLimit: 4096 }],
      linuxParameters: {
        capabilities: { add: ['NET_ADMIN'], drop: ['MKNOD'] },
        initProcessEnabled: true,
        sharedMemorySize: 64,
        tmpfs: [{ containerPath: '/tmp', size: 32, mountOptions: ['noexec'] }],
      },
      privileged: false,
      readonlyRootFilesystem: true,
      stopTimeout: 10,
    });
    expect(s.options).toMatchObject({
      Image: 'bosun/busybox:latest',
      Env: ['A=1'],
      Entrypoint: ['sh', '-c'],
      Cmd: ['echo hi'],
      WorkingDir: '/srv',
      User: '1000:1000',
      StopTimeout: 10,
      HostConfig: {
        Memory: 128 * 1024 * 1024,
        MemoryReservation: 64 * 1024 * 1024,
        Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 4096 }],
        CapAdd: ['NET_ADMIN'],
        CapDrop: ['MKNOD'],
        Init: true,
        ShmSize: 64 * 1024 * 1024,
        Tmpfs: { '/tmp': 'size=32m,noexec' },
        Privileged: false,
        ReadonlyRootfs: true,
        RestartPolicy: { Name: 'no' },
        LogConfig: { Type: 'json-file', Config: {} },
      },
    });
  });

  it('defaults stopTimeout to 30 s and uses the given log driver', () => {
    const s = spec({ name: 'c', logConfiguration: { logDriver: 'local', options: { 'max-size': '1m' } } });
    expect(s.options.StopTimeout).toBe(30);
    expect(s.options.HostConfig?.LogConfig).toEqual({ Type: 'local', Config: { 'max-size': '1m' } });
  });

  it.each([
    {
      name: 'none defined: the image healthcheck is disabled',
      healthCheck: undefined,
      expected: { Test: ['NONE'] },
    },
    {
      name: 'CMD-SHELL with start period',
      healthCheck: { command: ['CMD-SHELL', 'true'], interval: 5, timeout: 2, retries: 3, startPeriod: 10 },
      expected: {
        Test: ['CMD-SHELL', 'true'],
        Interval: 5e9,
        Timeout: 2e9,
        Retries: 3,
        StartPeriod: 10e9,
      },
    },
    {
      name: 'CMD without start period',
      healthCheck: { command: ['CMD', 'wget', '-q', 'localhost'], interval: 30, timeout: 5, retries: 1 },
      expected: { Test: ['CMD', 'wget', '-q', 'localhost'], Interval: 30e9, Timeout: 5e9, Retries: 1 },
    },
  ])('healthcheck: $name', ({ healthCheck, expected }) => {
    expect(spec({ name: 'c', healthCheck }).options.Healthcheck).toEqual(expected);
  });

  describe('network modes', () => {
    const ports = [
      { containerPort: 80, protocol: 'tcp' as const },
      { containerPort: 53, hostPort: 5353, protocol: 'udp' as const },
      { containerPort: 81, hostPort: 0, protocol: 'tcp' as const },
    ];

    it('bridge: publishes on the host ip, dynamic ports with an empty HostPort', () => {
      const s = spec({
        name: 'c',
        portMappings: ports,
        links: ['db', 'cache:redis'],
        dnsServers: ['1.1.1.1'],
      });
      expect(s.options.ExposedPorts).toEqual({ '80/tcp': {}, '53/udp': {}, '81/tcp': {} });
      expect(s.options.HostConfig).toMatchObject({
        NetworkMode: 'bridge',
        PortBindings: {
          '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
          '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }],
          '81/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
        },
        Links: [`bosun-${TASK_ID}-db:db`, `bosun-${TASK_ID}-cache:redis`],
        Dns: ['1.1.1.1'],
      });
    });

    it('host: no bindings', () => {
      const s = spec(
        { name: 'c', portMappings: [{ containerPort: 80, protocol: 'tcp' }] },
        { networkMode: 'host' },
      );
      expect(s.options.HostConfig?.NetworkMode).toBe('host');
      expect(s.options.HostConfig?.PortBindings).toBeUndefined();
    });

    it('none', () => {
      expect(spec({ name: 'c' }, { networkMode: 'none' }).options.HostConfig?.NetworkMode).toBe('none');
    });

    it('awsvpc: joins the network container, which publishes every port of the task', () => {
      const web = testContainer({
        name: 'web',
        portMappings: [{ containerPort: 8080, protocol: 'tcp' }],
        extraHosts: [{ hostname: 'db', ipAddress: '10.0.0.2' }],
        hostname: 'ignored',
      });
      const side = testContainer({ name: 'side', portMappings: [{ containerPort: 9090, protocol: 'udp' }] });
      const task = testTask(TASK_ID, [web, side], { networkMode: 'awsvpc' });
      const s = buildContainerSpec(task, web, ctx);
      expect(s.options.HostConfig?.NetworkMode).toBe(`container:bosun-${TASK_ID}-network`);
      expect(s.options.ExposedPorts).toBeUndefined();
      expect(s.options.HostConfig?.PortBindings).toBeUndefined();
      expect(s.options.HostConfig?.ExtraHosts).toBeUndefined();
      expect(s.options.Hostname).toBeUndefined();
      expect(s.options.Labels?.['bosun.ports']).toBe('8080/tcp');

      const net = buildNetworkContainerSpec(task, ctx, 'bosun/busybox:latest');
      expect(net.name).toBe(`bosun-${TASK_ID}-network`);
      expect(net.options).toMatchObject({
        Image: 'bosun/busybox:latest',
        Entrypoint: ['sleep'],
        Cmd: ['2147483647'],
        Labels: { 'bosun.role': 'network', 'bosun.task-id': TASK_ID, 'bosun.managed': 'true' },
        ExposedPorts: { '8080/tcp': {}, '9090/udp': {} },
        HostConfig: {
          NetworkMode: 'bridge',
          PortBindings: {
            '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }],
            '9090/udp': [{ HostIp: '127.0.0.1', HostPort: '9090' }],
          },
          ExtraHosts: ['db:10.0.0.2'],
        },
      });
      expect(net.options.Labels?.['bosun.container-name']).toBeUndefined();
    });
  });

  describe('volumes', () => {
    const volumes = [
      { name: 'bind', host: { sourcePath: '/srv/data' } },
      { name: 'scratch', host: {} },
      { name: 'cache', dockerVolumeConfiguration: { scope: 'task' as const, driver: 'local' } },
      { name: 'shared', dockerVolumeConfiguration: { scope: 'shared' as const, autoprovision: true } },
      { name: 'external', dockerVolumeConfiguration: { scope: 'shared' as const } },
    ];
    const app = testContainer({
      name: 'app',
      mountPoints: [
        { sourceVolume: 'bind', containerPath: '/data', readOnly: true },
        { sourceVolume: 'scratch', containerPath: '/scratch', readOnly: false },
        { sourceVolume: 'cache', containerPath: '/cache', readOnly: false },
        { sourceVolume: 'shared', containerPath: '/shared', readOnly: false },
        { sourceVolume: 'external', containerPath: '/ext', readOnly: true },
      ],
      volumesFrom: [{ sourceContainer: 'init', readOnly: true }],
    });
    const task = testTask(TASK_ID, [app, testContainer({ name: 'init' })], { volumes });

    it('maps mounts to Docker mounts (never Binds strings) and volumesFrom to sibling names', () => {
      const s = buildContainerSpec(task, app, ctx);
      expect(s.options.HostConfig?.Binds).toBeUndefined();
      expect(s.options.HostConfig?.Mounts).toEqual([
        { Type: 'bind', Source: '/srv/data', Target: '/data', ReadOnly: true },
        { Type: 'volume', Source: `bosun-${TASK_ID}-scratch`, Target: '/scratch', ReadOnly: false },
        { Type: 'volume', Source: `bosun-${TASK_ID}-cache`, Target: '/cache', ReadOnly: false },
        { Type: 'volume', Source: 'shared', Target: '/shared', ReadOnly: false },
        { Type: 'volume', Source: 'external', Target: '/ext', ReadOnly: true },
      ]);
      expect(s.options.HostConfig?.VolumesFrom).toEqual([`bosun-${TASK_ID}-init:ro`]);
    });

    it('lists the docker volumes to ensure, task-scoped ones labelled with the task', () => {
      const reqs = volumeRequirements(task, app, ctx);
      expect(reqs.map((r) => [r.options.Name, r.scope, r.create])).toEqual([
        [`bosun-${TASK_ID}-scratch`, 'task', true],
        [`bosun-${TASK_ID}-cache`, 'task', true],
        ['shared', 'shared', true],
        ['external', 'shared', false],
      ]);
      expect(reqs[1]?.options).toMatchObject({
        Driver: 'local',
        Labels: { 'bosun.task-id': TASK_ID, 'bosun.volume-scope': 'task' },
      });
      expect(reqs[2]?.options.Labels?.['bosun.task-id']).toBeUndefined();
    });
  });
});

describe('image references', () => {
  it.each([
    ['busybox', 'busybox:latest', 'https://index.docker.io/v1/'],
    ['bosun/busybox:1', 'bosun/busybox:1', 'https://index.docker.io/v1/'],
    ['localhost:5000/app', 'localhost:5000/app:latest', 'localhost:5000'],
    ['ghcr.io/org/app:2', 'ghcr.io/org/app:2', 'ghcr.io'],
    ['docker.io/library/nginx', 'docker.io/library/nginx:latest', 'https://index.docker.io/v1/'],
    ['r.example.com/app@sha256:abc', 'r.example.com/app@sha256:abc', 'r.example.com'],
  ])('%s → %s, auth at %s', (image, ref, server) => {
    expect(normalizeImageRef(image)).toBe(ref);
    expect(registryServerAddress(image)).toBe(server);
  });
});

describe('toObservedContainer', () => {
  const base = {
    Id: 'abc',
    Name: `/bosun-${TASK_ID}-web`,
    Image: 'sha256:123',
    State: {
      Status: 'running',
      ExitCode: 0,
      OOMKilled: false,
      Error: '',
      StartedAt: '2024-01-01T00:00:00.5Z',
      FinishedAt: '0001-01-01T00:00:00Z',
    },
    Config: { Labels: { 'bosun.task-id': TASK_ID, 'bosun.container-name': 'web' } },
    HostConfig: { NetworkMode: 'bridge' },
    NetworkSettings: {
      Ports: {
        '80/tcp': [
          { HostIp: '0.0.0.0', HostPort: '32768' },
          { HostIp: '::', HostPort: '32768' },
        ],
        '81/tcp': null,
      },
    },
  };

  it('reads a running container', () => {
    expect(toObservedContainer(base)).toEqual({
      id: 'abc',
      name: `bosun-${TASK_ID}-web`,
      taskId: TASK_ID,
      containerName: 'web',
      state: 'running',
      exitCode: undefined,
      oomKilled: false,
      error: undefined,
      startedAt: Date.parse('2024-01-01T00:00:00.5Z'),
      finishedAt: undefined,
      health: undefined,
      networkBindings: [
        { bindIP: '0.0.0.0', containerPort: 80, hostPort: 32768, protocol: 'tcp' },
        { bindIP: '::', containerPort: 80, hostPort: 32768, protocol: 'tcp' },
      ],
      imageId: 'sha256:123',
    });
  });

  it('reads an exited, OOM-killed container with health', () => {
    const o = toObservedContainer({
      ...base,
      State: {
        ...base.State,
        Status: 'exited',
        ExitCode: 137,
        OOMKilled: true,
        FinishedAt: '2024-01-01T00:01:00Z',
        Health: { Status: 'unhealthy', FailingStreak: 3, Log: [] },
      },
      NetworkSettings: { Ports: {} },
    });
    expect(o).toMatchObject({ state: 'exited', exitCode: 137, oomKilled: true, health: 'unhealthy' });
    expect(o.finishedAt).toBe(Date.parse('2024-01-01T00:01:00Z'));
  });

  it('takes awsvpc bindings from the network container, only its own ports', () => {
    const info = {
      ...base,
      Config: { Labels: { ...base.Config.Labels, 'bosun.ports': '8080/tcp' } },
      HostConfig: { NetworkMode: 'container:bosun-x-network' },
      NetworkSettings: { Ports: {} },
    };
    const net = {
      ...base,
      NetworkSettings: {
        Ports: {
          '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }],
          '9090/tcp': [{ HostIp: '127.0.0.1', HostPort: '9090' }],
        },
      },
    };
    expect(toObservedContainer(info, net).networkBindings).toEqual([
      { bindIP: '127.0.0.1', containerPort: 8080, hostPort: 8080, protocol: 'tcp' },
    ]);
  });

  it.each([
    ['0001-01-01T00:00:00Z', undefined],
    ['', undefined],
    ['2024-05-01T10:00:00.123456789Z', Date.parse('2024-05-01T10:00:00.123Z')],
  ])('dockerTime(%s)', (value, expected) => {
    expect(dockerTime(value)).toBe(expected);
  });
});
