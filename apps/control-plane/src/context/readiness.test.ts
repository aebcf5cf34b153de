import { describe, expect, it } from 'vitest';
import type { DependencyHealthSnapshot } from './dependency-health.ts';
import { readiness } from './readiness.ts';

const NOW = 100_000;
const up = { up: true, since: 0 };
const down = (error: string) => ({ up: false, since: NOW - 3_000, error });
const health = (o: Partial<DependencyHealthSnapshot> = {}): DependencyHealthSnapshot => ({
  database: up,
  redis: up,
  blindUntil: 0,
  ...o,
});
const beating = { sinceBeatMs: 500, longestJobMs: 0, staleMs: 15_000 };

describe('readiness', () => {
  it.each([
    { what: 'everything works', h: health(), pulse: beating, notReady: [] },
    { what: 'no workers in this process', h: health(), pulse: undefined, notReady: [] },
    {
      what: 'Redis down',
      h: health({ redis: down('Connection is closed.') }),
      pulse: beating,
      notReady: ['redis'],
    },
    {
      what: 'Postgres and Redis down',
      h: health({ database: down('ECONNREFUSED'), redis: down('Connection is closed.') }),
      pulse: beating,
      notReady: ['database', 'redis'],
    },
    {
      what: 'workers silent past the limit',
      h: health(),
      pulse: { sinceBeatMs: 16_000, longestJobMs: 0, staleMs: 15_000 },
      notReady: ['workers'],
    },
    {
      what: 'workers silent exactly at the limit',
      h: health(),
      pulse: { sinceBeatMs: 15_000, longestJobMs: 0, staleMs: 15_000 },
      notReady: [],
    },
  ])('$what → not ready: $notReady', ({ h, pulse, notReady }) => {
    const r = readiness(h, pulse, NOW);
    expect(r.notReady).toEqual(notReady);
    expect(r.ready).toBe(notReady.length === 0);
  });

  it('says why each component is not ready', () => {
    const r = readiness(
      health({ redis: down('Connection is closed.') }),
      { sinceBeatMs: 20_000, longestJobMs: 19_000, staleMs: 15_000 },
      NOW,
    );
    expect(r.checks).toEqual({
      database: { ok: true },
      redis: { ok: false, detail: 'unreachable for 3.0 s: Connection is closed.' },
      workers: {
        ok: false,
        detail: 'no worker heartbeat for 20.0 s (limit 15.0 s); a job has run for 19.0 s',
      },
    });
  });
});
