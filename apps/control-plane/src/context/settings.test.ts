import { describe, expect, it } from 'vitest';
import { DEFAULT_RETENTION, loadConfig, settingsOf } from './settings.ts';

const base = { DATABASE_URL: 'postgres://u:p@h:1/db', REDIS_URL: 'redis://h:2' };

describe('retention settings', () => {
  it('default to an hour for stopped tasks and deregistered hosts, 7 days for events, a day for requests, 90 days for the audit log', () => {
    expect(settingsOf(loadConfig(base)).retention).toEqual(DEFAULT_RETENTION);
    expect(DEFAULT_RETENTION).toEqual({
      stoppedTaskMs: 3600_000,
      serviceEventMs: 604_800_000,
      inactiveInstanceMs: 3600_000,
      requestMs: 86_400_000,
      auditEventMs: 7_776_000_000,
    });
  });

  it('are read in seconds from BOSUN_*_RETENTION_SECONDS', () => {
    const config = loadConfig({
      ...base,
      BOSUN_STOPPED_TASK_RETENTION_SECONDS: '120',
      BOSUN_SERVICE_EVENT_RETENTION_SECONDS: '86400',
      BOSUN_INACTIVE_INSTANCE_RETENTION_SECONDS: '600',
      BOSUN_REQUEST_RETENTION_SECONDS: '3600',
      BOSUN_AUDIT_RETENTION_SECONDS: '86400',
    });
    expect(settingsOf(config).retention).toEqual({
      stoppedTaskMs: 120_000,
      serviceEventMs: 86_400_000,
      inactiveInstanceMs: 600_000,
      requestMs: 3600_000,
      auditEventMs: 86_400_000,
    });
  });

  it.each([
    ['BOSUN_STOPPED_TASK_RETENTION_SECONDS', '59'],
    ['BOSUN_SERVICE_EVENT_RETENTION_SECONDS', 'soon'],
    ['BOSUN_INACTIVE_INSTANCE_RETENTION_SECONDS', '-1'],
    // A RunTask caller may still be waiting for its outcome.
    ['BOSUN_REQUEST_RETENTION_SECONDS', '899'],
    ['BOSUN_REQUEST_RETENTION_SECONDS', String(11 * 365 * 24 * 3600)],
    ['BOSUN_AUDIT_RETENTION_SECONDS', '3599'],
  ])('refuse %s=%s', (name, value) => {
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(name);
  });
});
