import { parseClusterQuery } from '@bosun/scheduler';
import { describe, expect, it } from 'vitest';
import { attributeNamesOf, clampCapacity, matchesPattern, refusedAttributes } from './host-admission.ts';

describe('clampCapacity', () => {
  const cases: [
    string,
    { cpu: number; memory: number },
    { maxCpu?: number | null; maxMemory?: number | null },
    { cpu: number; memory: number },
  ][] = [
    ['no caps: as declared', { cpu: 4096, memory: 8000 }, {}, { cpu: 4096, memory: 8000 }],
    [
      'null caps (as stored): as declared',
      { cpu: 4096, memory: 8000 },
      { maxCpu: null, maxMemory: null },
      { cpu: 4096, memory: 8000 },
    ],
    [
      'above the caps: the caps',
      { cpu: 1_048_576, memory: 99_999_999 },
      { maxCpu: 2048, maxMemory: 4096 },
      { cpu: 2048, memory: 4096 },
    ],
    [
      'below the caps: as declared',
      { cpu: 1024, memory: 512 },
      { maxCpu: 2048, maxMemory: 4096 },
      { cpu: 1024, memory: 512 },
    ],
    ['one cap only', { cpu: 8192, memory: 8000 }, { maxCpu: 2048 }, { cpu: 2048, memory: 8000 }],
    ['never below 1', { cpu: 0, memory: -5 }, { maxCpu: 2048 }, { cpu: 1, memory: 1 }],
  ];
  it.each(cases)('%s', (_name, declared, caps, expected) => {
    expect(clampCapacity(declared, caps)).toEqual(expected);
  });
});

describe('attributeNamesOf', () => {
  const cases: [string, string[]][] = [
    ['attribute:pool == private', ['pool']],
    ['attribute:a exists and not(attribute:b == x or attribute:c =~ y.*)', ['a', 'b', 'c']],
    ['agentConnected == true and ec2InstanceId != h1', []],
    ['task:group == service:web', []],
  ];
  it.each(cases)('%s', (expression, expected) => {
    const parsed = parseClusterQuery(expression);
    if (!parsed.ok) throw new Error(parsed.error.message);
    expect(attributeNamesOf(parsed.value)).toEqual(expected);
  });
});

describe('refusedAttributes', () => {
  const rules = { reserved: ['tenant', 'secure.*'], usedByConstraints: ['pool', 'bosun.zone'] };
  const cases: [string, string, string | undefined][] = [
    ['the agent-derived bosun.os-type', 'bosun.os-type', undefined],
    ['bosun.zone, even when a constraint reads it', 'bosun.zone', undefined],
    ['any other bosun.* name', 'bosun.trusted', 'bosun.* attributes are reserved to bosun'],
    ['bosun.* in another case', 'BOSUN.Trusted', 'bosun.* attributes are reserved to bosun'],
    ['a reserved name', 'tenant', 'reserved by BOSUN_RESERVED_ATTRIBUTES'],
    ['a reserved name in another case', 'Tenant', 'reserved by BOSUN_RESERVED_ATTRIBUTES'],
    ['a reserved prefix', 'secure.level', 'reserved by BOSUN_RESERVED_ATTRIBUTES'],
    ['a name that only starts like a reserved one', 'tenants', undefined],
    ['a name a memberOf reads', 'pool', "read by a service's memberOf placement constraint"],
    ['any other name', 'disk', undefined],
  ];
  it.each(cases)('%s', (_case, name, why) => {
    expect(refusedAttributes([{ name }], rules)).toEqual(why === undefined ? [] : [{ name, why }]);
  });
  it('matches patterns', () => {
    expect(matchesPattern('secure.a.b', 'secure.*')).toBe(true);
    expect(matchesPattern('secure', 'secure.*')).toBe(false);
  });
});
