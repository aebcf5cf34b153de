import { describe, expect, it } from 'vitest';
import {
  DEFAULT_HOST_POLICY,
  type Escape,
  escapesOf,
  type HostPolicy,
  hostPathAllowed,
  normalizeHostPath,
  refusalReason,
  refusedEscapes,
} from './escapes.ts';
import { RegisterTaskDefinitionInput, type TaskDefinitionSpec } from './task-definition.ts';

const def = (extra: Record<string, unknown> = {}, container: Record<string, unknown> = {}) => {
  const { tags: _t, ...spec } = RegisterTaskDefinitionInput.parse({
    family: 'f',
    containerDefinitions: [{ name: 'app', image: 'busybox', memory: 64, ...container }],
    ...extra,
  });
  return spec as TaskDefinitionSpec;
};

describe('escapesOf', () => {
  const cases: [string, TaskDefinitionSpec, Escape[]][] = [
    ['a plain task definition asks for nothing', def(), []],
    ['privileged', def({}, { privileged: true }), [{ kind: 'privileged', detail: "container 'app'" }]],
    ['privileged false is nothing', def({}, { privileged: false }), []],
    [
      'a host path',
      def({ volumes: [{ name: 'root', host: { sourcePath: '/' } }] }),
      [{ kind: 'hostPath', detail: '/' }],
    ],
    [
      '`host: {}` is a Docker-managed volume, not a host path',
      def({ volumes: [{ name: 'v', host: {} }] }),
      [],
    ],
    [
      'capabilities beyond the default set, written any way',
      def(
        {},
        { linuxParameters: { capabilities: { add: ['cap_sys_admin', 'NET_ADMIN', 'CHOWN', 'CAP_KILL'] } } },
      ),
      [
        { kind: 'capability', detail: "SYS_ADMIN (container 'app')" },
        { kind: 'capability', detail: "NET_ADMIN (container 'app')" },
      ],
    ],
    [
      'dropping capabilities is nothing',
      def({}, { linuxParameters: { capabilities: { drop: ['ALL'] } } }),
      [],
    ],
    [
      'ALL is an escape',
      def({}, { linuxParameters: { capabilities: { add: ['ALL'] } } }),
      [{ kind: 'capability', detail: "ALL (container 'app')" }],
    ],
    [
      'host network, pid and ipc',
      def({ networkMode: 'host', pidMode: 'host', ipcMode: 'host' }),
      [
        { kind: 'hostNamespace', detail: 'networkMode host' },
        { kind: 'hostNamespace', detail: 'pidMode host' },
        { kind: 'hostNamespace', detail: 'ipcMode host' },
      ],
    ],
    ['ipcMode none and pidMode task are nothing', def({ ipcMode: 'none', pidMode: 'task' }), []],
    [
      'local driver bind options',
      def({
        volumes: [
          {
            name: 'v',
            dockerVolumeConfiguration: {
              driver: 'local',
              driverOpts: { type: 'none', o: 'bind', device: '/' },
            },
          },
        ],
      }),
      [{ kind: 'volumeDriverOptions', detail: "volume 'v' (driver local): type=none, o=bind, device=/" }],
    ],
    [
      'a device mount, driver left default',
      def({
        volumes: [
          { name: 'v', dockerVolumeConfiguration: { driverOpts: { type: 'ext4', device: '/dev/sda1' } } },
        ],
      }),
      [{ kind: 'volumeDriverOptions', detail: "volume 'v' (driver local): device=/dev/sda1" }],
    ],
    [
      'tmpfs options are fine',
      def({
        volumes: [{ name: 'v', dockerVolumeConfiguration: { driverOpts: { type: 'tmpfs', o: 'size=10m' } } }],
      }),
      [],
    ],
    [
      'a shared volume',
      def({
        volumes: [{ name: 'data', dockerVolumeConfiguration: { scope: 'shared', autoprovision: true } }],
      }),
      [{ kind: 'sharedVolume', detail: 'data' }],
    ],
    [
      'a task-scoped volume is nothing',
      def({ volumes: [{ name: 'data', dockerVolumeConfiguration: { scope: 'task' } }] }),
      [],
    ],
  ];
  it.each(cases)('%s', (_name, spec, expected) => {
    expect(escapesOf(spec)).toEqual(expected);
  });
});

describe('refusedEscapes', () => {
  const all: Escape[] = [
    { kind: 'privileged', detail: "container 'app'" },
    { kind: 'hostPath', detail: '/srv/data/x' },
    { kind: 'capability', detail: "SYS_ADMIN (container 'app')" },
    { kind: 'hostNamespace', detail: 'pidMode host' },
    { kind: 'volumeDriverOptions', detail: "volume 'v' (driver local): o=bind" },
    { kind: 'sharedVolume', detail: 'data' },
  ];
  const policy = (p: Partial<HostPolicy>): HostPolicy => ({ ...DEFAULT_HOST_POLICY, ...p });
  const kinds = (p: Partial<HostPolicy>) => refusedEscapes(all, policy(p)).map((e) => e.kind);
  const cases: [string, Partial<HostPolicy>, string[]][] = [
    [
      'the default refuses everything',
      {},
      ['privileged', 'hostPath', 'capability', 'hostNamespace', 'volumeDriverOptions', 'sharedVolume'],
    ],
    [
      'allow privileged',
      { allowPrivileged: true },
      ['hostPath', 'capability', 'hostNamespace', 'volumeDriverOptions', 'sharedVolume'],
    ],
    [
      'a host path under an allowed directory',
      { allowedHostPaths: ['/srv/data'] },
      ['privileged', 'capability', 'hostNamespace', 'volumeDriverOptions', 'sharedVolume'],
    ],
    [
      'a named capability',
      { allowedCapabilities: ['cap_sys_admin'] },
      ['privileged', 'hostPath', 'hostNamespace', 'volumeDriverOptions', 'sharedVolume'],
    ],
    [
      'another capability',
      { allowedCapabilities: ['NET_ADMIN'] },
      ['privileged', 'hostPath', 'capability', 'hostNamespace', 'volumeDriverOptions', 'sharedVolume'],
    ],
    [
      'capability ALL',
      { allowedCapabilities: ['ALL'] },
      ['privileged', 'hostPath', 'hostNamespace', 'volumeDriverOptions', 'sharedVolume'],
    ],
    [
      'host namespaces',
      { allowHostNamespaces: true },
      ['privileged', 'hostPath', 'capability', 'volumeDriverOptions', 'sharedVolume'],
    ],
    [
      'volume driver options',
      { allowVolumeDriverOptions: true },
      ['privileged', 'hostPath', 'capability', 'hostNamespace', 'sharedVolume'],
    ],
    [
      'any shared volume',
      { allowSharedVolumes: true },
      ['privileged', 'hostPath', 'capability', 'hostNamespace', 'volumeDriverOptions'],
    ],
    [
      'a shared volume bosun made',
      { bosunVolumes: new Set(['data']) },
      ['privileged', 'hostPath', 'capability', 'hostNamespace', 'volumeDriverOptions'],
    ],
    [
      'another volume bosun made does not help',
      { bosunVolumes: new Set(['other']) },
      ['privileged', 'hostPath', 'capability', 'hostNamespace', 'volumeDriverOptions', 'sharedVolume'],
    ],
  ];
  it.each(cases)('%s', (_name, p, expected) => {
    expect(kinds(p)).toEqual(expected);
  });

  it('names what was refused and the setting that allows it', () => {
    expect(refusalReason(refusedEscapes(all.slice(0, 2), DEFAULT_HOST_POLICY))).toBe(
      "HostPolicyRefused: this host does not allow privileged container 'app' (BOSUN_ALLOW_PRIVILEGED=1); host path /srv/data/x (BOSUN_ALLOWED_HOST_PATHS)",
    );
  });
});

describe('host paths', () => {
  const cases: [string, string[], boolean][] = [
    ['/', [], false],
    ['/', ['/srv'], false],
    ['/srv', ['/srv'], true],
    ['/srv/data/x', ['/srv/data'], true],
    ['/srv/database', ['/srv/data'], false],
    ['/srv/data/../../etc', ['/srv/data'], false],
    ['/srv/data/./x/', ['/srv/data/'], true],
    ['/etc/shadow', ['/'], true],
  ];
  it.each(cases)('%s within %j: %s', (path, allowed, expected) => {
    expect(hostPathAllowed(path, allowed)).toBe(expected);
  });
  it('normalizes . and ..', () => {
    expect(normalizeHostPath('/a/./b/../c//')).toBe('/a/c');
    expect(normalizeHostPath('/../..')).toBe('/');
  });
});
