import { describe, expect, it } from 'vitest';
import { heartbeatWaitMs } from './control-plane-client.ts';

describe('heartbeatWaitMs: an accepted report stands in for a heartbeat', () => {
  it.each([
    { case: 'no report yet: beat now', lastReportAt: undefined, now: 10_000, wait: 0 },
    { case: 'report just now: wait a whole interval', lastReportAt: 10_000, now: 10_000, wait: 2000 },
    { case: 'report 1.5 s ago: wait the rest', lastReportAt: 8_500, now: 10_000, wait: 500 },
    { case: 'report exactly an interval ago: beat now', lastReportAt: 8_000, now: 10_000, wait: 0 },
    { case: 'report long ago: beat now', lastReportAt: 1_000, now: 10_000, wait: 0 },
    {
      case: 'report "in the future": never more than an interval',
      lastReportAt: 50_000,
      now: 10_000,
      wait: 2000,
    },
  ])('$case', ({ lastReportAt, now, wait }) => {
    expect(heartbeatWaitMs(lastReportAt, now, 2000)).toBe(wait);
  });
});
