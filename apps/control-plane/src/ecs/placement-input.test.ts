import {
  type PlacementStrategy,
  parseRegisterTaskDefinition,
  RegisterTaskDefinitionInput,
  type StoredPlacementStrategy,
} from '@bosun/model';
import { describe, expect, it } from 'vitest';
import { compileConstraints, compileStrategy, parseClusterQueryAt } from './placement-input.ts';

describe('compileStrategy: a placement strategy as given → as stored, or the error naming it', () => {
  it.each<[string, PlacementStrategy, StoredPlacementStrategy | string]>([
    ['random ignores its field', { type: 'random', field: 'cpu' }, { type: 'random' }],
    ['binpack field in any case', { type: 'binpack', field: 'MEMORY' }, { type: 'binpack', field: 'memory' }],
    [
      'binpack without cpu or memory',
      { type: 'binpack', field: 'disk' },
      'binpack takes field cpu or memory',
    ],
    [
      'spread on instanceId',
      { type: 'spread', field: 'instanceId' },
      { type: 'spread', field: 'instanceId' },
    ],
    ['spread on host', { type: 'spread', field: 'host' }, { type: 'spread', field: 'host' }],
    [
      'spread on an attribute',
      { type: 'spread', field: 'attribute:bosun.zone' },
      { type: 'spread', field: 'attribute:bosun.zone' },
    ],
    ['spread without a field', { type: 'spread' }, 'spread takes field instanceId, host or attribute:NAME'],
    ['spread on a bare name', { type: 'spread', field: 'zone' }, 'spread takes field instanceId'],
    [
      'spread on an empty attribute',
      { type: 'spread', field: 'attribute:' },
      'spread takes field instanceId',
    ],
  ])('%s', (_, given, expected) => {
    if (typeof expected === 'string') {
      expect(() => compileStrategy([{ type: 'random' }, given])).toThrow(`placementStrategy[1]: ${expected}`);
    } else {
      expect(compileStrategy([given])).toEqual([expected]);
    }
  });
});

describe('compileConstraints: the call’s constraints, then the task definition’s, checked and kept as text', () => {
  const specWith = (expression: string) =>
    parseRegisterTaskDefinition(
      RegisterTaskDefinitionInput.parse({
        family: 'web',
        containerDefinitions: [{ name: 'web', image: 'nginx', memory: 128 }],
        placementConstraints: [{ type: 'memberOf', expression }],
      }),
    ).spec;
  const spec = specWith('attribute:role == web');

  it('keeps memberOf expressions as written, the call’s before the task definition’s', () => {
    expect(
      compileConstraints(
        [
          { type: 'distinctInstance', expression: 'ignored' },
          { type: 'memberOf', expression: 'attribute:a == b' },
        ],
        spec,
      ),
    ).toEqual([
      { type: 'distinctInstance' },
      { type: 'memberOf', expression: 'attribute:a == b' },
      { type: 'memberOf', expression: 'attribute:role == web' },
    ]);
  });

  it.each([
    ['no expression', undefined, 'placementConstraints[0]: a memberOf constraint needs an expression.'],
    ['a blank expression', '  ', 'placementConstraints[0]: a memberOf constraint needs an expression.'],
    ['an expression that does not parse', 'attribute:a ==', 'placementConstraints[0].expression: '],
  ])('refuses a memberOf with %s', (_, expression, message) => {
    expect(() => compileConstraints([{ type: 'memberOf', expression }], undefined)).toThrow(message);
  });

  it('names the task definition’s constraint that does not parse', () => {
    expect(() => compileConstraints([], specWith('=='))).toThrow(
      'taskDefinition.placementConstraints[0].expression: ',
    );
  });
});

describe('parseClusterQueryAt', () => {
  it('answers the parsed query, or says where it was given and where it fails', () => {
    expect(parseClusterQueryAt('filter', 'attribute:role != edge')).toBeDefined();
    expect(() => parseClusterQueryAt('filter', 'attribute:role !=')).toThrow(
      /^filter: .* \(position \d+\)\.$/,
    );
  });
});
