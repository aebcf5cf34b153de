import { describe, expect, it } from 'vitest';
import { healthyFloor, taskCeiling } from './rules.ts';

describe('deployment configuration arithmetic', () => {
  it.each([
    [4, 50, 2],
    [3, 50, 2],
    [1, 50, 1],
    [10, 100, 10],
    [10, 0, 0],
    [7, 33, 3],
  ])('floor of %i tasks at %i percent is %i (rounded up)', (n, pct, expected) => {
    expect(healthyFloor(n, pct)).toBe(expected);
  });
  it.each([
    [4, 200, 8],
    [3, 150, 4],
    [1, 150, 1],
    [10, 100, 10],
    [7, 133, 9],
  ])('ceiling of %i tasks at %i percent is %i (rounded down)', (n, pct, expected) => {
    expect(taskCeiling(n, pct)).toBe(expected);
  });
});
