import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_EXPRESSION_LENGTH, MAX_NESTING_DEPTH, type QueryAst, type QueryTarget } from './ast.ts';
import { evaluateClusterQuery } from './evaluate.ts';
import { formatClusterQuery } from './format.ts';
import { parseClusterQuery } from './parse.ts';

function parse(expression: string): QueryAst {
  const result = parseClusterQuery(expression);
  if (!result.ok) throw new Error(`${expression}: ${result.error.message}`);
  return result.value;
}

const arm: QueryTarget = {
  instanceId: 'i-0abc',
  agentConnected: true,
  agentVersion: '1.2.10',
  registeredAt: Date.parse('2024-03-05T10:00:00Z'),
  runningTasksCount: 3,
  attributes: {
    'bosun.cpu-architecture': 'arm64',
    'bosun.zone': 'zone-a',
    'ecs.instance-type': 't2.micro',
    cores: '16',
    gpu: '',
  },
  taskGroups: new Set(['service:web', 'database']),
};

const x86: QueryTarget = {
  instanceId: 'i-1def',
  agentConnected: false,
  agentVersion: '1.2.9',
  registeredAt: Date.parse('2023-12-31T23:59:59Z'),
  runningTasksCount: 0,
  attributes: {
    'bosun.cpu-architecture': 'x86_64',
    'bosun.zone': 'zone-b',
    'ecs.instance-type': 'm5.large',
    cores: '4',
  },
  taskGroups: new Set(),
};

describe('evaluating valid expressions', () => {
  // [expression, result on arm, result on x86]
  const cases: [string, boolean, boolean][] = [
    ['attribute:bosun.cpu-architecture == arm64 and not(task:group == batch)', true, false],
    ['attribute:bosun.cpu-architecture == arm64 and not(task:group == database)', false, false],
    // wildcards and regular expressions
    ['attribute:ecs.instance-type == t2.*', true, false],
    ['attribute:ecs.instance-type == *.large', false, true],
    ['attribute:ecs.instance-type == t*.mi*o', true, false],
    ['attribute:ecs.instance-type == t2.**', true, false],
    ['attribute:ecs.instance-type != t2.*', false, true],
    ["attribute:ecs.instance-type == 't2.*'", true, false],
    ['attribute:ecs.instance-type =~ t2\\..*', true, false],
    ['attribute:ecs.instance-type =~ t2', false, false],
    ['attribute:ecs.instance-type =~ (t2|m5)\\.(micro|large)', true, true],
    ['attribute:ecs.instance-type matches "(?i)T2\\.MICRO"', true, false],
    ['attribute:ecs.instance-type not_matches m.*', true, false],
    // bounded or single-level repetition is fine
    ['attribute:ecs.instance-type =~ ([a-z][0-9]\\.){1}(m|l)[a-z]+', true, true],
    ['attribute:ecs.instance-type =~ (t2|m5)+\\.(a+)?[a-z]+', true, true],
    ['attribute:ecs.instance-type =~ [(a+)]+', false, false],
    // lists
    ['attribute:bosun.zone in [zone-a, zone-c]', true, false],
    ['attribute:bosun.zone !in [zone-a, zone-c]', false, true],
    ['attribute:bosun.zone not_in [\'zone-b\',"zone-c"]', true, false],
    ['attribute:bosun.zone in zone-a', true, false],
    ['attribute:bosun.zone in [zone-*]', true, true],
    // missing and valueless attributes
    ['attribute:gpu exists', true, false],
    ['attribute:gpu !exists', false, true],
    ['attribute:gpu not_exists', false, true],
    ["attribute:gpu == ''", true, false],
    ['attribute:gpu == true', false, false],
    ['attribute:gpu != true', true, true],
    ['attribute:gpu !in [a, b]', true, true],
    ['attribute:gpu =~ .*', true, false],
    ['attribute:gpu !~ x', true, true],
    ['attribute:gpu > 1', false, false],
    ['not(attribute:gpu > 1)', true, true],
    ['attribute:constructor exists', false, false],
    ['attribute:__proto__ == x', false, false],
    // ordering of attributes: numeric when both look numeric, else by code units
    ['attribute:cores > 8', true, false],
    ['attribute:cores >= 4', true, true],
    ['attribute:cores < 4.5', false, true],
    ['attribute:cores > -1', true, true],
    ['attribute:bosun.zone < zone-b', true, false],
    ['attribute:bosun.zone >= zone-b', false, true],
    // built-in subjects
    ['runningTasksCount == 0', false, true],
    ['runningTasksCount > 2', true, false],
    ['runningTasksCount <= 3', true, true],
    ['runningTasksCount != 3', false, true],
    ['agentVersion > 1.2.9', true, false],
    ['agentVersion >= 1.2.9', true, true],
    ['agentVersion == 1.2.10', true, false],
    ['agentVersion == v1.2.10', true, false],
    ['agentVersion < 1.10', true, true],
    ['agentVersion < 1.2.10-rc.1', false, true],
    ['agentConnected == false', false, true],
    ['agentConnected == TRUE', true, false],
    ['agentConnected in [true]', true, false],
    ['agentConnected =~ t.*', true, false],
    ['registeredAt < 2024-01-01', false, true],
    ['registeredAt >= 2024-01-01T00:00:00Z', true, false],
    ['registeredAt == 2024-03-05', true, false],
    ['registeredAt > 2024-03-04', true, false],
    ['registeredAt > 2024-03-05', false, false],
    ['registeredAt <= 2023-12-31', false, true],
    ['registeredAt == 2024-03-05T11:00:00+01:00', true, false],
    ['registeredAt == 2024-03-05T10:00:00', true, false],
    ['registeredAt == 2024-03-05T10:00:00.000Z', true, false],
    ['registeredAt != 2023-12-31', true, false],
    ['ec2InstanceId == i-0abc', true, false],
    ["ec2InstanceId in ['i-abcd1234', 'i-1def']", false, true],
    ['ec2InstanceId =~ i-0.*', true, false],
    // task groups: == is "any task has it", != is "no task has it"
    ['task:group == service:web', true, false],
    ['task:group != database', false, true],
    ['task:group in [batch, database]', true, false],
    ['task:group == service:*', true, false],
    ['task:group =~ serv.*', true, false],
    ['task:group !~ serv.*', false, true],
    // precedence: not > and > or
    ['agentConnected == true or runningTasksCount == 3 and runningTasksCount == 0', true, false],
    ['not agentConnected == true and runningTasksCount == 0', false, true],
    ['!(agentConnected == true) && runningTasksCount == 0 || ec2InstanceId == i-0abc', true, true],
    ['!!agentConnected == true', true, false],
    ['(agentConnected == true or runningTasksCount == 0) and attribute:bosun.zone == zone-b', false, true],
    // spelling: keywords in any case, word operators, no spaces
    ['attribute:bosun.zone == zone-a AND NOT agentConnected == false', true, false],
    ['runningTasksCount greater_than_equal 3 Or agentVersion less_than 1.0', true, false],
    ['attribute:bosun.zone equals zone-a', true, false],
    ['attribute:bosun.zone==zone-a&&runningTasksCount>1', true, false],
    ['(attribute:bosun.zone=~zone-(a|c))||runningTasksCount<1', true, true],
    ['  \n attribute:bosun.zone   not_equals\tzone-a  ', false, true],
  ];

  it.each(cases)('%s', (expression, onArm, onX86) => {
    const ast = parse(expression);
    expect(evaluateClusterQuery(ast, arm)).toBe(onArm);
    expect(evaluateClusterQuery(ast, x86)).toBe(onX86);
  });
});

describe('AST shapes', () => {
  it('keeps a chain flat and parentheses nested', () => {
    const flat = parse('agentConnected == true and runningTasksCount == 1 and runningTasksCount == 2');
    expect(flat).toMatchObject({
      kind: 'and',
      operands: [{ kind: 'equals' }, { kind: 'equals' }, { kind: 'equals' }],
    });
    const nested = parse('(agentConnected == true and runningTasksCount == 1) and runningTasksCount == 2');
    expect(nested).toMatchObject({ kind: 'and', operands: [{ kind: 'and' }, { kind: 'equals' }] });
  });

  it('types arguments for their subject at parse time', () => {
    expect(parse('attribute:ecs.instance-type == t2.*')).toEqual({
      kind: 'equals',
      subject: { kind: 'attribute', name: 'ecs.instance-type' },
      negated: false,
      values: [{ kind: 'wildcard', text: 't2.*', prefix: 't2.', middle: [], suffix: '' }],
    });
    expect(parse('registeredAt < 2024-01-01')).toEqual({
      kind: 'compare',
      subject: { kind: 'registeredAt' },
      operator: '<',
      value: {
        kind: 'date',
        text: '2024-01-01',
        from: Date.parse('2024-01-01T00:00:00Z'),
        until: Date.parse('2024-01-02T00:00:00Z'),
      },
    });
    expect(parse('runningTasksCount greater_than 2')).toMatchObject({
      kind: 'compare',
      operator: '>',
      value: { kind: 'number', value: 2 },
    });
    expect(parse('attribute:cores > 8')).toMatchObject({ value: { kind: 'text', text: '8', number: 8 } });
    expect(parse('attribute:zone > a')).toMatchObject({
      value: { kind: 'text', text: 'a', number: undefined },
    });
  });

  it('reads == a and in [a] as the same predicate, and not / ! as the same node', () => {
    expect(parse('task:group in [web]')).toEqual(parse('task:group == web'));
    expect(parse('task:group not_in [web]')).toEqual(parse('task:group != web'));
    expect(parse('!task:group == web')).toEqual(parse('not(task:group == web)'));
  });

  it('compiles regular expressions anchored, with (?i) as a flag', () => {
    const ast = parse("attribute:a =~ '(?i)ab+'");
    expect(ast).toMatchObject({ kind: 'matches', pattern: '(?i)ab+' });
    if (ast.kind !== 'matches') throw new Error('unreachable');
    expect(ast.regex.source).toBe('^(?:ab+)$');
    expect(ast.regex.flags).toBe('i');
  });

  it('reads quotes with the quote doubled inside, and backslashes as written', () => {
    expect(parse("attribute:a == 'it''s'")).toMatchObject({ values: [{ text: "it's" }] });
    expect(parse('attribute:a == "say ""hi"""')).toMatchObject({ values: [{ text: 'say "hi"' }] });
    expect(parse("attribute:a =~ 'a\\d'")).toMatchObject({ pattern: 'a\\d' });
  });

  it('accepts nesting up to the limit', () => {
    const deep = `${'('.repeat(MAX_NESTING_DEPTH)}agentConnected == true${')'.repeat(MAX_NESTING_DEPTH)}`;
    expect(evaluateClusterQuery(parse(deep), arm)).toBe(true);
    const negations = `${'!'.repeat(MAX_NESTING_DEPTH)}agentConnected == true`;
    expect(evaluateClusterQuery(parse(negations), arm)).toBe(true);
  });
});

describe('invalid expressions', () => {
  // [expression, fragment of the message, position]
  const cases: [string, string, number][] = [
    ['', 'expected an expression at position 0', 0],
    ['   ', 'expected an expression at position 3', 3],
    ['attribute:zone us-east-1', "expected an operator after 'attribute:zone' at position 15", 15],
    ['attribute:zone', "expected an operator after 'attribute:zone' at position 14, found the end", 14],
    ['attribute:x = a', "expected an operator after 'attribute:x' at position 12, found '='", 12],
    ['attribute:x !inside [a]', "expected an operator after 'attribute:x'", 12],
    ['foo == bar', "unknown subject 'foo' at position 0; expected agentConnected", 0],
    ['agentconnected == true', "unknown subject 'agentconnected'", 0],
    ['attribute: == x', "expected an attribute name after 'attribute:' at position 10", 10],
    [`attribute:${'a'.repeat(129)} exists`, 'longer than 128 characters', 10],
    ['attribute:x ==', "expected a value after '==' at position 14, found the end", 14],
    ['attribute:x == )', "expected a value after '==' at position 15, found ')'", 15],
    ['attribute:x == a and', "expected an expression after 'and' at position 20", 20],
    ['attribute:x == a or )', "expected an expression after 'or' at position 20, found ')'", 20],
    ['not', "expected an expression after 'not' at position 3", 3],
    ['!', "expected an expression after '!' at position 1", 1],
    ['()', "expected an expression after '(' at position 1, found ')'", 1],
    ['(attribute:x == a', "expected ')' at position 17 to close the '(' at position 0", 17],
    ['attribute:x == a)', "expected 'and', 'or' or the end of the expression at position 16, found ')'", 16],
    ['attribute:x == a b', "expected 'and', 'or' or the end of the expression at position 17, found 'b'", 17],
    ['attribute:x in [a, b', "expected ',' or ']' at position 20 in the list opened at position 15", 20],
    ['attribute:x in [a,]', "expected a value after ',' at position 18, found ']'", 18],
    ['attribute:x in []', "expected a value after '[' at position 16", 16],
    ["attribute:x == 'abc", 'unterminated string starting at position 15', 15],
    ['agentConnected == yes', "expected true or false for agentConnected at position 18, found 'yes'", 18],
    [
      'agentConnected > true',
      "operator '>' is not valid for agentConnected at position 15; use ==, !=, in",
      15,
    ],
    ['runningTasksCount exists', "operator 'exists' is not valid for runningTasksCount", 18],
    ['task:group greater_than a', "operator 'greater_than' is not valid for task:group", 11],
    ['agentVersion =~ 1.*', "operator '=~' is not valid for agentVersion", 13],
    ['runningTasksCount == -1', 'expected a whole number for runningTasksCount at position 21', 21],
    ['runningTasksCount == 1.5', 'expected a whole number', 21],
    [
      'agentVersion >= latest',
      "expected a version like 1.2.3 for agentVersion at position 16, found 'latest'",
      16,
    ],
    ['agentVersion >= 1.2.', 'expected a version like 1.2.3', 16],
    ['registeredAt < 2024-02-30', 'expected a date like 2024-01-01', 15],
    ['registeredAt < 2024-01-01T25:00:00Z', 'expected a date like', 15],
    ['registeredAt < yesterday', "for registeredAt at position 15, found 'yesterday'", 15],
    ['attribute:x =~ a(', 'invalid regular expression at position 15', 15],
    ["attribute:x =~ 'a)|(b'", 'invalid regular expression at position 15', 15],
    ['attribute:x =~', "expected a regular expression after '=~' at position 14", 14],
    ['attribute:x =~ (a+)+b', "repeats a group that itself repeats ('(a+)+')", 15],
    ['attribute:x =~ (x*)*y', 'which can take exponential time', 15],
    ["attribute:x =~ '((a+))+'", 'repeats a group that itself repeats', 15],
    ['attribute:x =~ (a+){2,}', 'repeats a group that itself repeats', 15],
    ['attribute:x =~ ([a-z0-9-]+\\.)+[a-z]+', 'repeats a group that itself repeats', 15],
    [
      `attribute:x =~ ${'a'.repeat(257)}`,
      'regular expression at position 15 is longer than 256 characters',
      15,
    ],
    [`agentConnected == ${'x'.repeat(MAX_EXPRESSION_LENGTH)}`, 'the limit is 2000', 2000],
    ['('.repeat(2000), 'expression nests deeper than 64 levels at position 64', 64],
    ['!('.repeat(70), 'expression nests deeper than 64 levels at position 129', 129],
    [`${'not '.repeat(65)}agentConnected == true`, 'nests deeper than 64 levels at position 256', 256],
  ];

  it.each(cases)('%s', (expression, fragment, position) => {
    const result = parseClusterQuery(expression);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.message).toContain(fragment);
    expect(result.error.position).toBe(position);
  });
});

// ---------------------------------------------------------------------------------------------------
// Properties

const attributeNames = ['bosun.zone', 'ecs.instance-type', 'cores', 'gpu', 'a/b:c_d-e'];
const valuePool = ['zone-a', 'zone-b', 't2.micro', 'm5.large', '4', '16', '', 'x y', "it's"];
const groups = ['service:web', 'database', 'batch'];

/** Test-local quoting, independent of the formatter's. */
const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;

const stringValue = fc.oneof(
  fc.constantFrom(...valuePool, 't2.*', '*.large', 'zone-*', '*'),
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
);
const date = fc
  .tuple(
    fc.integer({ min: Date.parse('2023-06-01'), max: Date.parse('2024-06-01') }),
    fc.constantFrom('day', 'utc', 'offset', 'millis'),
  )
  .map(([ms, style]) => {
    const iso = new Date(ms).toISOString();
    if (style === 'day') return iso.slice(0, 10);
    if (style === 'utc') return `${iso.slice(0, 19)}Z`;
    if (style === 'offset') return `${iso.slice(0, 19)}+00:00`;
    return iso;
  });

const regex = fc.constantFrom('zone-.*', 't2\\..*', '(a|b)+', '[0-9]+', '(?i)ZONE-A', '.*', 'x y', '');

const predicateSource: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(fc.constantFrom(...attributeNames), fc.constantFrom('exists', '!exists', 'not_exists'))
    .map(([name, op]) => `attribute:${name} ${op}`),
  fc
    .tuple(
      fc.constantFrom(
        'attribute:bosun.zone',
        'attribute:gpu',
        'attribute:cores',
        'ec2InstanceId',
        'task:group',
      ),
      fc.constantFrom('==', '!=', 'equals', 'not_equals'),
      stringValue,
    )
    .map(([subject, op, value]) => `${subject} ${op} ${quote(value)}`),
  fc
    .tuple(
      fc.constantFrom('attribute:bosun.zone', 'attribute:ecs.instance-type', 'ec2InstanceId', 'task:group'),
      fc.constantFrom('in', '!in', 'not_in'),
      fc.array(stringValue, { minLength: 1, maxLength: 3 }),
    )
    .map(([subject, op, values]) => `${subject} ${op} [${values.map(quote).join(', ')}]`),
  fc
    .tuple(
      fc.constantFrom('attribute:cores', 'attribute:bosun.zone', 'attribute:gpu'),
      fc.constantFrom('>', '>=', '<', '<=', 'greater_than'),
      fc.oneof(fc.constantFrom('8', '4', '-1.5', 'zone-b'), stringValue),
    )
    .map(([subject, op, value]) => `${subject} ${op} ${quote(value)}`),
  fc
    .tuple(
      fc.constantFrom('attribute:bosun.zone', 'attribute:ecs.instance-type', 'ec2InstanceId', 'task:group'),
      fc.constantFrom('=~', '!~', 'matches'),
      regex,
    )
    .map(([subject, op, pattern]) => `${subject} ${op} ${quote(pattern)}`),
  fc
    .tuple(fc.constantFrom('==', '!=', 'in', '!in', '=~', '!~'), fc.boolean())
    .map(([op, value]) => `agentConnected ${op} ${value}`),
  fc
    .tuple(fc.constantFrom('==', '!=', '>', '>=', '<', '<='), fc.nat(6))
    .map(([op, n]) => `runningTasksCount ${op} ${n}`),
  fc
    .tuple(
      fc.constantFrom('==', '!=', '>', '>=', '<', '<='),
      fc.constantFrom('1.2.9', '1.2.10', '1.10', 'v2.0.0-rc.1', '1.2.10+b7'),
    )
    .map(([op, v]) => `agentVersion ${op} ${v}`),
  fc
    .tuple(fc.constantFrom('==', '!=', '>', '>=', '<', '<='), date)
    .map(([op, d]) => `registeredAt ${op} ${d}`),
);

const predicateAst: fc.Arbitrary<QueryAst> = predicateSource.map(parse);

const { tree: astArb } = fc.letrec<{ tree: QueryAst; not: QueryAst; and: QueryAst; or: QueryAst }>((tie) => ({
  tree: fc.oneof({ depthSize: 'small', maxDepth: 4 }, predicateAst, tie('not'), tie('and'), tie('or')),
  not: tie('tree').map((operand): QueryAst => ({ kind: 'not', operand })),
  and: fc
    .array(tie('tree'), { minLength: 2, maxLength: 3 })
    .map((operands): QueryAst => ({ kind: 'and', operands })),
  or: fc
    .array(tie('tree'), { minLength: 2, maxLength: 3 })
    .map((operands): QueryAst => ({ kind: 'or', operands })),
}));

const targetArb: fc.Arbitrary<QueryTarget> = fc.record({
  instanceId: fc.constantFrom('i-0abc', 'i-1def', "it's"),
  agentConnected: fc.boolean(),
  agentVersion: fc.constantFrom('1.2.9', '1.2.10', '1.10.0', '2.0.0-rc.1', 'v1.2', 'dev', ''),
  registeredAt: fc.integer({ min: Date.parse('2023-06-01'), max: Date.parse('2024-06-01') }),
  runningTasksCount: fc.nat(6),
  attributes: fc.dictionary(fc.constantFrom(...attributeNames), fc.constantFrom(...valuePool)),
  taskGroups: fc.uniqueArray(fc.constantFrom(...groups)).map((a) => new Set(a)),
});

describe('properties', () => {
  it('formatting an AST and parsing it back gives the same AST', () => {
    fc.assert(
      fc.property(astArb, (ast) => {
        expect(parseClusterQuery(formatClusterQuery(ast))).toEqual({ ok: true, value: ast });
      }),
      { numRuns: 500 },
    );
  });

  it('not X evaluates to the negation of X', () => {
    fc.assert(
      fc.property(astArb, targetArb, (ast, target) => {
        const negated = parse(`not(${formatClusterQuery(ast)})`);
        expect(evaluateClusterQuery(negated, target)).toBe(!evaluateClusterQuery(ast, target));
      }),
      { numRuns: 500 },
    );
  });

  it('each negated operator is the complement of its positive form, attribute missing or not', () => {
    fc.assert(
      fc.property(predicateAst, targetArb, (ast, target) => {
        if (ast.kind !== 'exists' && ast.kind !== 'equals' && ast.kind !== 'matches') return;
        const flipped = { ...ast, negated: !ast.negated };
        expect(evaluateClusterQuery(flipped, target)).toBe(!evaluateClusterQuery(ast, target));
      }),
      { numRuns: 500 },
    );
  });

  it("De Morgan's laws hold under evaluation", () => {
    fc.assert(
      fc.property(astArb, astArb, targetArb, (a, b, target) => {
        const [x, y] = [formatClusterQuery(a), formatClusterQuery(b)];
        const evaluate = (expression: string) => evaluateClusterQuery(parse(expression), target);
        expect(evaluate(`not((${x}) and (${y}))`)).toBe(evaluate(`not(${x}) or not(${y})`));
        expect(evaluate(`not((${x}) or (${y}))`)).toBe(evaluate(`not(${x}) and not(${y})`));
      }),
      { numRuns: 500 },
    );
  });

  const tokens = [
    'attribute:a',
    'attribute:',
    'task:group',
    'agentVersion',
    'registeredAt',
    'runningTasksCount',
    'agentConnected',
    '==',
    '!=',
    '=~',
    '!~',
    '!exists',
    'in',
    '!in',
    '>',
    '<=',
    'and',
    'or',
    'not',
    '&&',
    '||',
    '!',
    '(',
    ')',
    '[',
    ']',
    ',',
    "'",
    '"',
    'x',
    '*',
    '1.2.3',
    '2024-01-01',
    '(?i)',
    '\\',
    ' ',
  ];

  it('the parser never throws, and errors point inside the expression', () => {
    const input = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.array(fc.constantFrom(...tokens), { maxLength: 30 }).map((t) => t.join('')),
      fc.array(fc.constantFrom(...tokens), { maxLength: 30 }).map((t) => t.join(' ')),
      fc
        .tuple(
          fc.constantFrom('(', '!', 'not ', '!(', '[', "'"),
          fc.nat(700),
          fc.constantFrom('', 'agentConnected == true'),
        )
        .map(([token, n, tail]) => token.repeat(n) + tail),
    );
    fc.assert(
      fc.property(input, (expression) => {
        const result = parseClusterQuery(expression);
        if (result.ok) {
          expect(parseClusterQuery(formatClusterQuery(result.value))).toEqual(result);
        } else {
          expect(result.error.message).not.toBe('');
          expect(result.error.position).toBeGreaterThanOrEqual(0);
          expect(result.error.position).toBeLessThanOrEqual(expression.length);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
