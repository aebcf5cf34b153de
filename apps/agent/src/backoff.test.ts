import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Backoff, type BackoffPolicy, backoffDelayMs } from './backoff.ts';

const policy: BackoffPolicy = { baseMs: 500, capMs: 15_000 };

describe('backoffDelayMs: full jitter, capped', () => {
  it.each([
    { case: 'no failure: no delay (the fast path)', attempt: 0, r: 0.99, ms: 0 },
    { case: 'a negative attempt is no failure', attempt: -3, r: 0.5, ms: 0 },
    { case: 'first retry, lowest draw', attempt: 1, r: 0, ms: 0 },
    { case: 'first retry, middle draw: half of base', attempt: 1, r: 0.5, ms: 250 },
    { case: 'second retry doubles the window', attempt: 2, r: 0.5, ms: 500 },
    { case: 'fifth retry: 500 × 16 = 8000, half of it', attempt: 5, r: 0.5, ms: 4000 },
    { case: 'sixth retry reaches the cap (16000 > 15000)', attempt: 6, r: 0.5, ms: 7500 },
    { case: 'a huge attempt stays capped', attempt: 5000, r: 0.5, ms: 7500 },
    { case: 'the top draw stays under the window', attempt: 1, r: 0.999999, ms: 499 },
    { case: 'a draw of 1 is clamped below the window', attempt: 1, r: 1, ms: 499 },
    { case: 'a negative draw is clamped to 0', attempt: 3, r: -1, ms: 0 },
    { case: 'NaN draw: no delay rather than NaN', attempt: 3, r: Number.NaN, ms: 0 },
  ])('$case', ({ attempt, r, ms }) => {
    expect(backoffDelayMs(attempt, policy, () => r)).toBe(ms);
  });

  it('is always an integer in [0, min(cap, base × 2^(attempt-1)))', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 600_000 }),
        (attempt, r, baseMs, capMs) => {
          const ms = backoffDelayMs(attempt, { baseMs, capMs }, () => r);
          const window = Math.min(capMs, baseMs * 2 ** (attempt - 1));
          return Number.isInteger(ms) && ms >= 0 && ms < window;
        },
      ),
    );
  });

  it('grows with the draw and with the attempt (up to the cap)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, a, b) => {
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          return (
            backoffDelayMs(attempt, policy, () => lo) <= backoffDelayMs(attempt, policy, () => hi) &&
            backoffDelayMs(attempt, policy, () => lo) <= backoffDelayMs(attempt + 1, policy, () => lo)
          );
        },
      ),
    );
  });

  it('spreads a fleet that failed at the same moment over the window (no lockstep)', () => {
    // 200 agents whose control plane restarted: each draws its own first-retry delay.
    const random = seeded(17);
    const delays = Array.from({ length: 200 }, () => backoffDelayMs(1, policy, random));
    const sameMillisecond = Math.max(...countBy(delays).values());
    expect(sameMillisecond).toBeLessThanOrEqual(5);
    // Both halves of the window are used.
    expect(delays.filter((d) => d < 250).length).toBeGreaterThan(60);
    expect(delays.filter((d) => d >= 250).length).toBeGreaterThan(60);
  });
});

describe('Backoff: one loop', () => {
  it('counts failures, and a success starts again from the first window', () => {
    const b = new Backoff(policy, () => 0.5);
    expect([b.fail(), b.fail(), b.fail()]).toEqual([250, 500, 1000]);
    expect(b.failures).toBe(3);
    b.reset();
    expect(b.failures).toBe(0);
    expect(b.fail()).toBe(250);
  });
});

/** mulberry32: a small seeded generator, so the spread test is the same every run. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function countBy(values: number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const v of values) out.set(v, (out.get(v) ?? 0) + 1);
  return out;
}
