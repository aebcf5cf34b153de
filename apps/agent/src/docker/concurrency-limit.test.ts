import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ConcurrencyLimit } from './concurrency-limit.ts';

/** Runs `jobs` functions through the limit, each taking a few ms; returns the most running at once and the start order. */
async function runThrough(limit: number, jobs: number): Promise<{ peak: number; order: number[] }> {
  const slots = new ConcurrencyLimit(limit);
  let running = 0;
  let peak = 0;
  const order: number[] = [];
  await Promise.all(
    Array.from({ length: jobs }, (_, i) =>
      slots.run(async () => {
        order.push(i);
        running++;
        peak = Math.max(peak, running);
        await sleep(1 + (i % 3));
        running--;
      }),
    ),
  );
  return { peak, order };
}

describe('ConcurrencyLimit', () => {
  it.each([
    [1, 5, 1],
    [4, 20, 4],
    [6, 3, 3],
    [0, 20, 20],
  ])('limit %i, %i jobs: at most %i at once, first come first served', async (limit, jobs, peak) => {
    const out = await runThrough(limit, jobs);
    expect(out.peak).toBe(peak);
    expect(out.order).toEqual(Array.from({ length: jobs }, (_, i) => i));
  });

  it('frees the slot of a function that throws, and passes the error on', async () => {
    const slots = new ConcurrencyLimit(1);
    await expect(slots.run(() => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
    expect(await slots.run(async () => 'next')).toBe('next');
  });
});
