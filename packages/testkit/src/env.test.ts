import { describe, expect, it } from 'vitest';
import { parseEnvFile } from './env.ts';

describe('parseEnvFile', () => {
  it.each([
    ["export AWS_REGION='local'", { AWS_REGION: 'local' }],
    // The control plane quotes a ' inside a value as '\'' (close, escaped quote, reopen).
    ["export A_B='it'\\''s'", { A_B: "it's" }],
    ["export EMPTY=''", { EMPTY: '' }],
    ["# comment\nexport X='1'\n\nexport Y='2'\n", { X: '1', Y: '2' }],
    ["AWS_REGION='no export'", {}],
    ["export lower='not a variable name'", {}],
  ])('%j', (text, expected) => {
    expect(parseEnvFile(text)).toEqual(expected);
  });
});
