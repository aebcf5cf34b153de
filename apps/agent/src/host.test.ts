import { describe, expect, it } from 'vitest';
import { type DockerInfo, describeHost } from './host.ts';

const info: DockerInfo = {
  NCPU: 2,
  MemTotal: 4096 * 1024 * 1024,
  ServerVersion: '20.10.24',
  OSType: 'linux',
  Architecture: 'x86_64',
  Name: 'host-a',
};
const base = {
  memoryReserveMiB: 256,
  reservedPorts: ['tcp:22'],
  zone: undefined,
  attributes: [],
  hostname: undefined,
};

describe('describeHost', () => {
  it.each([
    ['2 cores → 2048 units, memory minus reserve', info, base, { cpu: 2048, memory: 3840 }],
    [
      '8 cores, no reserve',
      { ...info, NCPU: 8 },
      { ...base, memoryReserveMiB: 0 },
      { cpu: 8192, memory: 4096 },
    ],
    ['hostname override', info, { ...base, hostname: 'nas' }, { hostname: 'nas' }],
  ])('%s', (_name, i, c, expected) => {
    expect(describeHost(i, c)).toMatchObject(expected);
  });

  it('sets the zone from config, else the hostname, and keeps its own attributes over configured ones', () => {
    const d = describeHost(info, {
      ...base,
      zone: 'rack-1',
      attributes: [
        { name: 'bosun.os-type', value: 'fake' },
        { name: 'gpu', value: 'none' },
      ],
    });
    expect(d.attributes).toEqual(
      expect.arrayContaining([
        { name: 'bosun.zone', value: 'rack-1' },
        { name: 'bosun.os-type', value: 'linux' },
        { name: 'bosun.cpu-architecture', value: 'x86_64' },
        { name: 'bosun.hostname', value: 'host-a' },
        { name: 'gpu', value: 'none' },
      ]),
    );
    expect(describeHost(info, base).attributes).toContainEqual({ name: 'bosun.zone', value: 'host-a' });
  });

  it('refuses a reserve larger than the host', () => {
    expect(() => describeHost(info, { ...base, memoryReserveMiB: 5000 })).toThrow(/leaves no memory/);
  });
});
