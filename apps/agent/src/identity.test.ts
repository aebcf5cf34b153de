import { describe, expect, it } from 'vitest';
import { newKeyPair, pinnedFingerprint, renewalDueAt, TrustError } from './identity.ts';

describe('renewalDueAt', () => {
  it.each([
    { validFrom: 0, validTo: 3000, due: 2000 },
    { validFrom: 1000, validTo: 4000, due: 3000 },
    { validFrom: 0, validTo: 30 * 86_400_000, due: 20 * 86_400_000 },
  ])('$validFrom..$validTo → $due', ({ validFrom, validTo, due }) => {
    expect(renewalDueAt(validFrom, validTo)).toBe(due);
  });
});

describe('pinnedFingerprint', () => {
  const fp = '0f'.repeat(32);
  it('reads the CA fingerprint of a join token', () => {
    expect(pinnedFingerprint(`bjt_1_${fp}_${'s'.repeat(43)}`)).toBe(fp);
  });
  it.each([`bjt_${'s'.repeat(43)}`, `bjt_1_${fp}`, 'anything'])('refuses %s', (token) => {
    expect(() => pinnedFingerprint(token)).toThrow(TrustError);
  });
});

describe('newKeyPair', () => {
  it('makes an EC P-256 key: PKCS#8 PEM private, SPKI DER public', () => {
    const keys = newKeyPair();
    expect(keys.privateKey).toContain('BEGIN PRIVATE KEY');
    expect(Buffer.from(keys.publicKey, 'base64').length).toBe(91);
  });
});
