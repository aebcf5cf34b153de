import { describe, expect, it } from 'vitest';
import { formatJoinToken, parseJoinToken } from './join-token.ts';

const fp = 'ab'.repeat(32);
const secret = 'A_-b'.repeat(10).concat('xyz');

describe('join token text', () => {
  it('round-trips, a secret with underscores included', () => {
    const token = formatJoinToken({ caFingerprint: fp, secret });
    expect(token).toBe(`bjt_1_${fp}_${secret}`);
    expect(parseJoinToken(token)).toEqual({ caFingerprint: fp, secret });
  });

  it.each([
    ['the old shape, without a CA fingerprint', `bjt_${secret}`],
    ['an unknown version', `bjt_2_${fp}_${secret}`],
    ['an uppercase fingerprint', `bjt_1_${fp.toUpperCase()}_${secret}`],
    ['a short fingerprint', `bjt_1_${fp.slice(2)}_${secret}`],
    ['a short secret', `bjt_1_${fp}_${secret.slice(1)}`],
    ['a secret with other characters', `bjt_1_${fp}_${secret.slice(1)}.`],
    ['nothing', ''],
  ])('refuses %s', (_what, token) => {
    expect(parseJoinToken(token)).toBeUndefined();
  });
});
