import { describe, expect, it } from 'vitest';
import { WorkerPulse, workersStaleMs } from './pulse.ts';

/** A pulse on a clock the test moves. */
function pulseAt(staleMs = 10_000) {
  let t = 1_000;
  const pulse = new WorkerPulse(staleMs, () => t);
  return {
    pulse,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

describe('WorkerPulse', () => {
  it('beats at each tick while the workers run and no job is stuck', () => {
    const { pulse, advance } = pulseAt();
    advance(4_000);
    expect(pulse.state()).toEqual({ sinceBeatMs: 4_000, longestJobMs: 0, staleMs: 10_000 });
    pulse.tick(true);
    expect(pulse.state().sinceBeatMs).toBe(0);
  });

  it('does not beat while a worker is not running', () => {
    const { pulse, advance } = pulseAt();
    advance(12_000);
    pulse.tick(false);
    expect(pulse.state().sinceBeatMs).toBe(12_000);
  });

  it('falls silent while a job runs past the limit, and beats when it ends', async () => {
    const { pulse, advance } = pulseAt();
    let finish: () => void = () => {};
    const job = pulse.track(() => new Promise<string>((resolve) => (finish = () => resolve('done'))));
    advance(5_000);
    pulse.tick(true);
    // Running for 5 s of 10: still a beat.
    expect(pulse.state()).toMatchObject({ sinceBeatMs: 0, longestJobMs: 5_000 });
    advance(7_000);
    pulse.tick(true);
    expect(pulse.state()).toMatchObject({ sinceBeatMs: 7_000, longestJobMs: 12_000 });
    finish();
    expect(await job).toBe('done');
    expect(pulse.state()).toMatchObject({ sinceBeatMs: 0, longestJobMs: 0 });
  });

  it('beats when a job fails, and passes its error on', async () => {
    const { pulse, advance } = pulseAt();
    advance(20_000);
    await expect(pulse.track(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(pulse.state().sinceBeatMs).toBe(0);
  });

  it.each([
    { sweepMs: 2_000, staleMs: 15_000 },
    { sweepMs: 5_000, staleMs: 15_000 },
    { sweepMs: 60_000, staleMs: 180_000 },
  ])('a sweep every $sweepMs ms: stale after $staleMs ms', ({ sweepMs, staleMs }) => {
    expect(workersStaleMs(sweepMs)).toBe(staleMs);
  });
});
