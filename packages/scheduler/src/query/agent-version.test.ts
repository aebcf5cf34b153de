import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareAgentVersions } from './agent-version.ts';

describe('agent versions', () => {
  const cases: [string, string, number][] = [
    ['1.2.10', '1.2.9', 1],
    ['1.2.9', '1.2.10', -1],
    ['1.2', '1.2.0', 0],
    ['v1.2.3', '1.2.3', 0],
    ['01.2', '1.02', 0],
    ['1.2.3-rc.1', '1.2.3', -1],
    ['1.2.3-rc.2', '1.2.3-rc.10', -1],
    ['1.2.3-1', '1.2.3-alpha', -1],
    ['1.2.3-alpha', '1.2.3-alpha.1', -1],
    ['1.2.3+build.5', '1.2.3', 0],
    ['999999999999999.0', '999999999999998.9', 1],
  ];
  it.each(cases)('%s vs %s', (a, b, sign) => {
    expect(Math.sign(compareAgentVersions(a, b))).toBe(sign);
    expect(Math.sign(compareAgentVersions(b, a))).toBe(-sign || 0);
  });

  it('agree with a plain reference implementation and are antisymmetric', () => {
    const identifier = fc.oneof(fc.nat(12).map(String), fc.constantFrom('rc', 'alpha', 'beta', 'a-1'));
    const version = fc.record({
      v: fc.boolean(),
      core: fc.array(fc.nat(12), { minLength: 1, maxLength: 4 }),
      pre: fc.array(identifier, { maxLength: 3 }),
      build: fc.boolean(),
    });
    const text = (x: { v: boolean; core: number[]; pre: string[]; build: boolean }) =>
      `${x.v ? 'v' : ''}${x.core.join('.')}${x.pre.length > 0 ? `-${x.pre.join('.')}` : ''}${x.build ? '+b.7' : ''}`;
    const reference = (
      a: { core: number[]; pre: string[] },
      b: { core: number[]; pre: string[] },
    ): number => {
      for (let i = 0; i < Math.max(a.core.length, b.core.length); i++) {
        const d = (a.core[i] ?? 0) - (b.core[i] ?? 0);
        if (d !== 0) return Math.sign(d);
      }
      if (a.pre.length === 0 || b.pre.length === 0) return Math.sign(b.pre.length) - Math.sign(a.pre.length);
      for (let i = 0; i < Math.min(a.pre.length, b.pre.length); i++) {
        const [x, y] = [a.pre[i] ?? '', b.pre[i] ?? ''];
        const [xn, yn] = [/^[0-9]+$/.test(x), /^[0-9]+$/.test(y)];
        if (xn && yn && Number(x) !== Number(y)) return Math.sign(Number(x) - Number(y));
        if (xn !== yn) return xn ? -1 : 1;
        if (!xn && x !== y) return x < y ? -1 : 1;
      }
      return Math.sign(a.pre.length - b.pre.length);
    };
    fc.assert(
      fc.property(version, version, (a, b) => {
        const order = Math.sign(compareAgentVersions(text(a), text(b)));
        expect(order).toBe(reference(a, b));
        expect(Math.sign(compareAgentVersions(text(b), text(a)))).toBe(-order || 0);
      }),
      { numRuns: 1000 },
    );
  });

  it.each(['', 'dev', '1.', '1..2', '1.2.3-', '1.2.3+', '1.2.3 ', 'v', '1.2.3-rc..1', '1234567890123456.0'])(
    '%j is not a version',
    (v) => {
      expect(compareAgentVersions(v, '1.0.0')).toBeNaN();
    },
  );
});
