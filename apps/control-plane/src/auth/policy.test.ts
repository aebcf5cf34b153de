import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AuthorizationRequest,
  type Decision,
  evaluatePolicy,
  globMatch,
  PRESET_POLICIES,
  parsePolicy,
  type Statement,
} from './policy.ts';

const KNOWN = new Set(
  [
    'ecs:CreateService',
    'ecs:DescribeServices',
    'ecs:ListClusters',
    'ecs:RunTask',
    'bosun:CreateAccessKey',
  ].map((a) => a.toLowerCase()),
);
const parse = (doc: unknown) => parsePolicy(doc, KNOWN);
const CLUSTER = 'arn:aws:ecs:local:000000000000:cluster/prod';
const req = (action: string, resources: string[] = ['*'], context = {}): AuthorizationRequest => ({
  action,
  resources,
  context,
});

describe('evaluatePolicy (examples)', () => {
  const cases: Array<[string, unknown, AuthorizationRequest, Decision]> = [
    ['ReadOnly describes', PRESET_POLICIES.ReadOnly, req('ecs:DescribeServices'), 'Allow'],
    ['ReadOnly does not create', PRESET_POLICIES.ReadOnly, req('ecs:CreateService'), 'ImplicitDeny'],
    ['actions are case-insensitive', PRESET_POLICIES.ReadOnly, req('ECS:listclusters'), 'Allow'],
    [
      'EcsFullAccess is not bosun',
      PRESET_POLICIES.EcsFullAccess,
      req('bosun:CreateAccessKey'),
      'ImplicitDeny',
    ],
    [
      'a Deny beats an Allow',
      {
        Statement: [
          { Effect: 'Allow', Action: 'ecs:*', Resource: '*' },
          { Effect: 'Deny', Action: 'ecs:CreateService', Resource: '*' },
        ],
      },
      req('ecs:CreateService'),
      'ExplicitDeny',
    ],
    [
      'a resource by ARN with a wildcard',
      {
        Statement: {
          Effect: 'Allow',
          Action: 'ecs:CreateService',
          Resource: 'arn:aws:ecs:*:*:service/prod/*',
        },
      },
      req('ecs:CreateService', ['arn:aws:ecs:local:000000000000:service/prod/web']),
      'Allow',
    ],
    [
      'every resource must be allowed',
      { Statement: { Effect: 'Allow', Action: 'ecs:Describe*', Resource: 'arn:aws:ecs:*:*:service/prod/*' } },
      req('ecs:DescribeServices', [
        'arn:aws:ecs:local:000000000000:service/prod/web',
        'arn:aws:ecs:local:000000000000:service/dev/web',
      ]),
      'ImplicitDeny',
    ],
    [
      'a cluster condition',
      {
        Statement: {
          Effect: 'Allow',
          Action: 'ecs:RunTask',
          Resource: '*',
          Condition: { ArnEquals: { 'ecs:cluster': CLUSTER } },
        },
      },
      req('ecs:RunTask', ['*'], { 'ecs:cluster': CLUSTER }),
      'Allow',
    ],
    [
      'a cluster condition, another cluster',
      {
        Statement: {
          Effect: 'Allow',
          Action: 'ecs:RunTask',
          Resource: '*',
          Condition: { ArnEquals: { 'ecs:cluster': CLUSTER } },
        },
      },
      req('ecs:RunTask', ['*'], { 'ecs:cluster': `${CLUSTER}2` }),
      'ImplicitDeny',
    ],
    [
      'a missing key fails a positive operator',
      {
        Statement: {
          Effect: 'Allow',
          Action: '*',
          Resource: '*',
          Condition: { StringLike: { 'ecs:cluster': '*' } },
        },
      },
      req('ecs:ListClusters'),
      'ImplicitDeny',
    ],
    [
      '…and satisfies its IfExists form',
      {
        Statement: {
          Effect: 'Allow',
          Action: '*',
          Resource: '*',
          Condition: { StringLikeIfExists: { 'ecs:cluster': 'nope' } },
        },
      },
      req('ecs:ListClusters'),
      'Allow',
    ],
    [
      'NotAction',
      { Statement: { Effect: 'Allow', NotAction: 'bosun:*', Resource: '*' } },
      req('bosun:CreateAccessKey'),
      'ImplicitDeny',
    ],
  ];
  it.each(cases)('%s', (_name, doc, request, decision) => {
    expect(evaluatePolicy(parse(doc), request)).toBe(decision);
  });
});

describe('parsePolicy refuses syntax errors, naming them', () => {
  const cases: Array<[unknown, RegExp]> = [
    ['{"Statement": [', /not valid JSON/],
    [{ Statement: [] }, /Statement/],
    [{ Statement: { Effect: 'Permit', Action: '*', Resource: '*' } }, /Effect/],
    [{ Statement: { Effect: 'Allow', Resource: '*' } }, /exactly one of Action, NotAction/],
    [{ Statement: { Effect: 'Allow', Action: '*' } }, /exactly one of Resource, NotResource/],
    [{ Statement: { Effect: 'Allow', Action: 's3:GetObject', Resource: '*' } }, /ecs and bosun only/],
    [
      { Statement: { Effect: 'Allow', Action: 'ecs:CreateSrvice', Resource: '*' } },
      /not an action bosun knows/,
    ],
    [{ Statement: { Effect: 'Allow', Action: 'ecs', Resource: '*' } }, /service:Action/],
    [{ Statement: { Effect: 'Allow', Action: '*', Resource: 'cluster/x' } }, /must be '\*' or an ARN/],
    [
      {
        Statement: {
          Effect: 'Allow',
          Action: '*',
          Resource: '*',
          Condition: { NumericEquals: { 'ecs:cluster': '1' } },
        },
      },
      /operator 'NumericEquals'/,
    ],
    [
      {
        Statement: {
          Effect: 'Allow',
          Action: '*',
          Resource: '*',
          Condition: { StringEquals: { 'aws:SourceIp': '1' } },
        },
      },
      /condition key 'aws:SourceIp'/,
    ],
    [
      { Statement: { Effect: 'Allow', Action: '*', Resource: '*', Principal: '*' } },
      /Principal|Unrecognized/,
    ],
  ];
  it.each(cases)('%j', (doc, message) => {
    expect(() => parse(doc)).toThrow(message);
    try {
      parse(doc);
    } catch (e) {
      expect((e as { code: string }).code).toBe('InvalidParameterException');
    }
  });
});

// Generators: small alphabets so that patterns and values collide often.
const word = fc.stringMatching(/^[ab*?]{0,4}$/);
const literal = fc.stringMatching(/^[ab]{0,4}$/);
const ACTIONS = ['ecs:createservice', 'ecs:describeservices', 'ecs:listclusters', 'bosun:createaccesskey'];
const actionPattern = fc.oneof(
  fc.constantFrom('*', 'ecs:*', 'ecs:describe*', 'ecs:list*', 'bosun:*', ...ACTIONS),
  fc.constant('ecs:?reateservice'),
);
const resourcePattern = fc.oneof(
  fc.constant('*'),
  word.map((w) => `arn:x:${w}`),
);
const statement: fc.Arbitrary<Statement> = fc.record({
  effect: fc.constantFrom('Allow', 'Deny'),
  actions: fc.record({
    not: fc.boolean(),
    patterns: fc.array(actionPattern, { minLength: 1, maxLength: 3 }),
  }),
  resources: fc.record({
    not: fc.boolean(),
    patterns: fc.array(resourcePattern, { minLength: 1, maxLength: 3 }),
  }),
  conditions: fc.array(
    fc.record({
      operator: fc.constantFrom('StringEquals', 'StringNotEquals', 'StringLike', 'ArnNotLike'),
      ifExists: fc.boolean(),
      key: fc.constant('ecs:cluster'),
      values: fc.array(word, { minLength: 1, maxLength: 2 }),
    }),
    { maxLength: 2 },
  ),
}) as fc.Arbitrary<Statement>;
const request: fc.Arbitrary<AuthorizationRequest> = fc.record({
  action: fc.constantFrom(...ACTIONS),
  resources: fc.array(
    literal.map((w) => `arn:x:${w}`),
    { minLength: 1, maxLength: 3 },
  ),
  context: fc.option(literal, { nil: undefined }).map((c) => (c === undefined ? {} : { 'ecs:cluster': c })),
});
const rank = (d: Decision) => ({ ExplicitDeny: 0, ImplicitDeny: 1, Allow: 2 })[d];

describe('evaluatePolicy (properties)', () => {
  it('denies by default: no statement, no access', () => {
    fc.assert(fc.property(request, (r) => evaluatePolicy({ statements: [] }, r) === 'ImplicitDeny'));
  });

  it('an explicit Deny of everything wins over any Allow', () => {
    const denyAll: Statement = {
      effect: 'Deny',
      actions: { not: false, patterns: ['*'] },
      resources: { not: false, patterns: ['*'] },
      conditions: [],
    };
    fc.assert(
      fc.property(fc.array(statement), fc.nat(), request, (ss, at, r) => {
        const i = at % (ss.length + 1);
        const with_ = [...ss.slice(0, i), denyAll, ...ss.slice(i)];
        return evaluatePolicy({ statements: with_ }, r) === 'ExplicitDeny';
      }),
    );
  });

  it('adding an Allow never takes access away; adding a Deny never grants it', () => {
    fc.assert(
      fc.property(fc.array(statement, { maxLength: 6 }), statement, request, (ss, extra, r) => {
        const before = evaluatePolicy({ statements: ss }, r);
        const after = evaluatePolicy({ statements: [...ss, extra] }, r);
        return extra.effect === 'Allow'
          ? rank(after) >= rank(before) || after === 'ExplicitDeny'
          : rank(after) <= rank(before);
      }),
    );
  });

  it('an Allow statement never yields ExplicitDeny; only Deny statements do', () => {
    fc.assert(
      fc.property(fc.array(statement, { maxLength: 6 }), request, (ss, r) => {
        const allows = ss.filter((s) => s.effect === 'Allow');
        return evaluatePolicy({ statements: allows }, r) !== 'ExplicitDeny';
      }),
    );
  });

  it('the order of statements does not matter', () => {
    fc.assert(
      fc.property(fc.array(statement, { maxLength: 6 }), request, fc.nat(), (ss, r, seed) => {
        const shuffled = [...ss].sort(
          (a, b) => ((ss.indexOf(a) * 31 + seed) % 7) - ((ss.indexOf(b) * 31 + seed) % 7),
        );
        return evaluatePolicy({ statements: ss }, r) === evaluatePolicy({ statements: shuffled }, r);
      }),
    );
  });

  it('a request on several resources is allowed only if each one alone is', () => {
    fc.assert(
      fc.property(fc.array(statement, { maxLength: 6 }), request, (ss, r) => {
        const each = r.resources.map((res) => evaluatePolicy({ statements: ss }, { ...r, resources: [res] }));
        const all = evaluatePolicy({ statements: ss }, r);
        return (all === 'Allow') === each.every((d) => d === 'Allow');
      }),
    );
  });
});

describe('globMatch', () => {
  /** The reference: the pattern as an anchored regular expression. */
  const viaRegExp = (p: string, v: string) =>
    new RegExp(
      `^${p
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
      's',
    ).test(v);

  it('agrees with the regular-expression reading of * and ?', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[ab*?:/.]{0,8}$/), fc.stringMatching(/^[ab*?:/.]{0,8}$/), (p, v) => {
        return globMatch(p, v) === viaRegExp(p, v);
      }),
      { numRuns: 2000 },
    );
  });

  it('a literal matches itself only, and * matches anything', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        const literalA = a.replace(/[*?]/g, '');
        return (
          globMatch('*', b) && globMatch(literalA, literalA) && globMatch(literalA, b) === (literalA === b)
        );
      }),
    );
  });
});
