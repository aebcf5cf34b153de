import { describe, expect, it } from 'vitest';
import { contactStaleAfterMs, describeHealth, type HealthInputs } from './health.ts';

const T0 = Date.parse('2025-01-01T00:00:00.000Z');
const base: HealthInputs = {
  now: T0 + 60_000,
  startedAt: T0,
  containerInstanceArn: 'arn:aws:ecs:local:000000000000:container-instance/default/abc',
  controlPlaneUrl: 'http://127.0.0.1:7700',
  lastContactAt: T0 + 59_000,
  heartbeatIntervalMs: 2000,
  failures: { heartbeat: 0, desiredState: 0, reports: 0 },
  docker: { reachable: true, checkedAt: T0 + 59_500 },
  taskStatuses: ['RUNNING', 'RUNNING', 'STOPPED'],
  reports: { pending: 0, dropped: 0 },
};

describe('contactStaleAfterMs', () => {
  it.each([
    { interval: 2000, ms: 10_000 },
    { interval: 5000, ms: 15_000 },
    { interval: 200, ms: 10_000 },
  ])('interval $interval ms → $ms ms', ({ interval, ms }) => {
    expect(contactStaleAfterMs(interval)).toBe(ms);
  });
});

describe('describeHealth', () => {
  it('all well: ok, with the figures', () => {
    expect(describeHealth(base)).toEqual({
      status: 'ok',
      problems: [],
      writtenAt: '2025-01-01T00:01:00.000Z',
      startedAt: '2025-01-01T00:00:00.000Z',
      containerInstanceArn: base.containerInstanceArn,
      controlPlane: {
        url: 'http://127.0.0.1:7700',
        lastContactAt: '2025-01-01T00:00:59.000Z',
        secondsSinceContact: 1,
        failures: { heartbeat: 0, desiredState: 0, reports: 0 },
      },
      docker: { reachable: true, checkedAt: '2025-01-01T00:00:59.500Z' },
      tasks: { known: 3, byStatus: { RUNNING: 2, STOPPED: 1 } },
      reports: { pending: 0, dropped: 0 },
    });
  });

  it.each([
    {
      case: 'silent 9 s: still ok (under the 10 s floor)',
      inputs: { lastContactAt: T0 + 51_000 },
      status: 'ok',
      problems: [],
    },
    {
      case: 'silent 30 s: degraded, tasks keep running',
      inputs: { lastContactAt: T0 + 30_000 },
      status: 'degraded',
      problems: ['no contact with the control plane for 30 s; tasks keep running'],
    },
    {
      case: 'never reached, 5 s after start: ok (still starting)',
      inputs: { lastContactAt: undefined, now: T0 + 5000 },
      status: 'ok',
      problems: [],
    },
    {
      case: 'never reached, a minute after start: degraded',
      inputs: { lastContactAt: undefined },
      status: 'degraded',
      problems: ['no contact with the control plane since the start for 60 s; tasks keep running'],
    },
    {
      case: 'Docker does not answer',
      inputs: {
        docker: { reachable: false, checkedAt: T0 + 59_000, error: 'connect ENOENT /var/run/docker.sock' },
      },
      status: 'degraded',
      problems: ['Docker is not reachable: connect ENOENT /var/run/docker.sock'],
    },
    {
      case: 'Docker not looked at yet: not a problem',
      inputs: { docker: { reachable: undefined, checkedAt: undefined } },
      status: 'ok',
      problems: [],
    },
    {
      case: 'reports waiting, some dropped: figures only, not a problem',
      inputs: { reports: { pending: 3, dropped: 1, lastError: 'ServerException: x' } },
      status: 'ok',
      problems: [],
    },
  ])('$case', ({ inputs, status, problems }) => {
    const h = describeHealth({ ...base, ...inputs } as HealthInputs);
    expect([h.status, h.problems]).toEqual([status, problems]);
  });

  it('shows the last report error only while reports wait', () => {
    const waiting = describeHealth({ ...base, reports: { pending: 2, dropped: 0, lastError: 'boom' } });
    expect(waiting.reports).toEqual({ pending: 2, dropped: 0, lastError: 'boom' });
    const done = describeHealth({ ...base, reports: { pending: 0, dropped: 0, lastError: 'boom' } });
    expect(done.reports).toEqual({ pending: 0, dropped: 0 });
  });

  it('never contacted: null times', () => {
    const h = describeHealth({ ...base, lastContactAt: undefined, now: T0 + 1000 });
    expect(h.controlPlane).toMatchObject({ lastContactAt: null, secondsSinceContact: null });
  });
});
