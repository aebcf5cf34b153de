import { describe, expect, it } from 'vitest';
import { describeEscapes, escapesOf } from './escapes.ts';

const c = (extra: object = {}) => ({ name: 'app', ...extra });
const td = (extra: object = {}, containers: object[] = [c()]) =>
  ({ networkMode: 'bridge', volumes: [], containerDefinitions: containers, ...extra }) as Parameters<
    typeof escapesOf
  >[0];

describe('escapesOf', () => {
  const cases: Array<[string, Parameters<typeof escapesOf>[0], string[]]> = [
    ['a plain definition', td(), []],
    ['privileged', td({}, [c({ privileged: true })]), ['privileged']],
    ['privileged: false', td({}, [c({ privileged: false })]), []],
    ['/ as a host path', td({ volumes: [{ name: 'root', host: { sourcePath: '/' } }] }), ['hostPath']],
    ['a host volume without a path (Docker-managed)', td({ volumes: [{ name: 'v', host: {} }] }), []],
    ['networkMode host', td({ networkMode: 'host' }), ['hostNetwork']],
    ['pidMode host', td({ pidMode: 'host' }), ['hostPid']],
    ['pidMode task', td({ pidMode: 'task' }), []],
    ['ipcMode host', td({ ipcMode: 'host' }), ['hostIpc']],
    [
      'a capability beyond the default set, in any spelling',
      td({}, [c({ linuxParameters: { capabilities: { add: ['cap_sys_admin', 'NET_ADMIN'] } } })]),
      ['capability', 'capability'],
    ],
    [
      'default capabilities added again, and drops',
      td({}, [c({ linuxParameters: { capabilities: { add: ['CHOWN', 'CAP_KILL'], drop: ['ALL'] } } })]),
      [],
    ],
    [
      'ALL capabilities',
      td({}, [c({ linuxParameters: { capabilities: { add: ['ALL'] } } })]),
      ['capability'],
    ],
    [
      'a local volume binding a host path',
      td({
        volumes: [
          {
            name: 'v',
            dockerVolumeConfiguration: {
              scope: 'task',
              driverOpts: { type: 'none', o: 'bind', device: '/etc' },
            },
          },
        ],
      }),
      ['volumeDriverOptions'],
    ],
    [
      'a tmpfs volume',
      td({
        volumes: [
          {
            name: 'v',
            dockerVolumeConfiguration: { scope: 'task', driverOpts: { type: 'tmpfs', o: 'size=100m' } },
          },
        ],
      }),
      [],
    ],
    [
      'a shared volume',
      td({
        volumes: [{ name: 'state', dockerVolumeConfiguration: { scope: 'shared', autoprovision: false } }],
      }),
      ['sharedVolume'],
    ],
  ];
  it.each(cases)('%s', (_name, input, kinds) => {
    expect(escapesOf(input).map((e) => e.kind)).toEqual(kinds);
  });

  it('names the container and the detail', () => {
    const escapes = escapesOf(
      td({ volumes: [{ name: 'root', host: { sourcePath: '/' } }] }, [c({ privileged: true })]),
    );
    expect(describeEscapes(escapes)).toBe('volume root: host path /; container app: privileged');
  });
});
