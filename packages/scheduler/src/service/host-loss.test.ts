import { describe, expect, it } from 'vitest';
import { type HostContact, hostLoss, massSilence } from './host-loss.ts';

/** `c` connected, `s` silent with tasks, `i` silent and idle — one letter per host. */
const hosts = (pattern: string): HostContact[] =>
  [...pattern].map((ch, i) => ({
    instanceId: `ci-${i + 1}`,
    connected: ch === 'c',
    wantedTasks: ch === 'i' ? 0 : 2,
  }));

describe('massSilence', () => {
  it.each([
    [0, 1, false],
    [1, 1, true],
    [1, 2, true], // all but one of a small cluster
    [1, 3, false],
    [2, 3, true],
    [1, 4, false],
    [2, 4, false], // half is not more than half
    [3, 4, true],
    [2, 5, false],
    [3, 5, true],
    [4, 10, false],
    [6, 10, true],
  ])('%i silent of %i → %s', (silent, of, expected) => {
    expect(massSilence(silent, of)).toBe(expected);
  });
});

describe('hostLoss', () => {
  it.each([
    // pattern, recovering, expected kind, reason or lost ids
    ['ccc', false, 'lost', []],
    ['ccs', false, 'lost', ['ci-3']],
    ['cccs', false, 'lost', ['ci-4']],
    ['ccss', false, 'lost', ['ci-3', 'ci-4']], // half: still host loss
    ['csss', false, 'withheld', 'partition'],
    ['sss', false, 'withheld', 'partition'],
    ['cs', false, 'withheld', 'partition'],
    ['s', false, 'withheld', 'partition'],
    ['ccs', true, 'withheld', 'recovering'],
    ['cci', true, 'lost', ['ci-3']], // idle and silent: nothing to replace, lost even while recovering
    ['cciis', false, 'lost', ['ci-3', 'ci-4', 'ci-5']], // idle silent hosts do not count towards a mass silence
    ['cccii', false, 'lost', ['ci-4', 'ci-5']],
  ] as const)('%s recovering=%s → %s %j', (pattern, recovering, kind, detail) => {
    const verdict = hostLoss(hosts(pattern), { recovering });
    expect(verdict.kind).toBe(kind);
    if (verdict.kind === 'lost') expect(verdict.instanceIds).toEqual(detail);
    else expect(verdict.reason).toBe(detail);
  });

  it('while withheld, lists the silent hosts with tasks and still lets idle silent ones go', () => {
    const verdict = hostLoss(hosts('csssi'), { recovering: false });
    expect(verdict).toEqual({
      kind: 'withheld',
      reason: 'partition',
      silentInstanceIds: ['ci-2', 'ci-3', 'ci-4'],
      of: 4,
      lost: ['ci-5'],
    });
  });
});
