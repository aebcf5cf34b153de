import { DEFAULT_HOST_POLICY } from '@bosun/model/escapes';
import { describe, expect, it } from 'vitest';
import { loadAgentConfig } from './config.ts';

describe('agent host policy settings', () => {
  it('refuses every escape by default', () => {
    expect(loadAgentConfig({}).hostPolicy).toEqual(DEFAULT_HOST_POLICY);
  });

  it('reads each allowance', () => {
    const policy = loadAgentConfig({
      BOSUN_ALLOW_PRIVILEGED: '1',
      BOSUN_ALLOWED_HOST_PATHS: '/srv/data, /var/log ',
      BOSUN_ALLOWED_CAPABILITIES: 'SYS_ADMIN,net_admin',
      BOSUN_ALLOW_HOST_NAMESPACES: '1',
      BOSUN_ALLOW_VOLUME_DRIVER_OPTIONS: '1',
      BOSUN_ALLOW_SHARED_VOLUMES: '1',
    }).hostPolicy;
    expect(policy).toEqual({
      allowPrivileged: true,
      allowedHostPaths: ['/srv/data', '/var/log'],
      allowedCapabilities: ['SYS_ADMIN', 'net_admin'],
      allowHostNamespaces: true,
      allowVolumeDriverOptions: true,
      allowSharedVolumes: true,
    });
  });

  it.each([
    [{ BOSUN_ALLOW_PRIVILEGED: 'yes' }, /BOSUN_ALLOW_PRIVILEGED/],
    [{ BOSUN_ALLOWED_HOST_PATHS: 'srv/data' }, /not an absolute path/],
  ])('refuses a bad value: %j', (env, message) => {
    expect(() => loadAgentConfig(env)).toThrow(message);
  });
});
