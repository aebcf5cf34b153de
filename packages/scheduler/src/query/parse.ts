/**
 * Parsing a cluster query. It does all the work that can be done once — typing arguments, compiling
 * regular expressions and wildcards, converting dates — so that evaluation, which placement runs for
 * every (task, instance) pair, is a walk over a small tree that neither allocates nor re-parses.
 *
 * The parser is a hand-written recursive descent: the grammar is a dozen rules, and a generated parser
 * would add a dependency and a build step while giving worse error messages and slower start-up.
 */
import { err, ok, type Result } from '@bosun/model';
import { parseVersion } from './agent-version.ts';
import { nestedRepetitionAt, parseDate, wildcardValue } from './arguments.ts';
import {
  MAX_ATTRIBUTE_NAME_LENGTH,
  MAX_EXPRESSION_LENGTH,
  MAX_NESTING_DEPTH,
  MAX_PATTERN_LENGTH,
  type QueryAst,
  type QueryOperator,
  type QueryPredicate,
  type QuerySubject,
  type QuerySyntaxError,
  type QueryValue,
} from './ast.ts';
import {
  BANG,
  bareRegexEnd,
  bareValueEnd,
  CLOSE_BRACKET,
  CLOSE_PAREN,
  COMMA,
  DOUBLE_QUOTE,
  isLetter,
  isNameChar,
  isOperatorChar,
  isSpace,
  nameEnd,
  OPEN_BRACKET,
  OPEN_PAREN,
  SINGLE_QUOTE,
} from './characters.ts';
import { decimalValue } from './evaluate.ts';

export function parseClusterQuery(expression: string): Result<QueryAst, QuerySyntaxError> {
  if (expression.length > MAX_EXPRESSION_LENGTH) {
    return err({
      message: `expression is ${expression.length} characters long; the limit is ${MAX_EXPRESSION_LENGTH}`,
      position: MAX_EXPRESSION_LENGTH,
    });
  }
  try {
    return ok(new Parser(expression).parse());
  } catch (e) {
    if (e instanceof ParseFailure) return err(e.error);
    throw e;
  }
}

/** Thrown inside the parser only, so that each rule can give up in one line; never escapes it. */
class ParseFailure extends Error {
  constructor(readonly error: QuerySyntaxError) {
    super(error.message);
  }
}

const SUBJECT_NAMES =
  'agentConnected, agentVersion, attribute:NAME, ec2InstanceId, registeredAt, runningTasksCount or task:group';

const SIMPLE_SUBJECTS: ReadonlyMap<string, QuerySubject> = new Map<string, QuerySubject>([
  ['agentConnected', { kind: 'agentConnected' }],
  ['agentVersion', { kind: 'agentVersion' }],
  ['ec2InstanceId', { kind: 'ec2InstanceId' }],
  ['registeredAt', { kind: 'registeredAt' }],
  ['runningTasksCount', { kind: 'runningTasksCount' }],
  ['task:group', { kind: 'task:group' }],
]);

// Tried in order, so a symbol comes before any shorter one it starts with (`>=` before `>`).
const SYMBOL_OPERATORS: readonly (readonly [string, QueryOperator])[] = [
  ['!exists', '!exists'],
  ['!in', '!in'],
  ['==', '=='],
  ['!=', '!='],
  ['>=', '>='],
  ['<=', '<='],
  ['=~', '=~'],
  ['!~', '!~'],
  ['>', '>'],
  ['<', '<'],
];

const WORD_OPERATORS: ReadonlyMap<string, QueryOperator> = new Map<string, QueryOperator>([
  ['equals', '=='],
  ['not_equals', '!='],
  ['greater_than', '>'],
  ['greater_than_equal', '>='],
  ['less_than', '<'],
  ['less_than_equal', '<='],
  ['exists', 'exists'],
  ['not_exists', '!exists'],
  ['in', 'in'],
  ['not_in', '!in'],
  ['matches', '=~'],
  ['not_matches', '!~'],
]);

// ECS's table of valid operators per subject. Accepting more than ECS would let a task definition
// work on bosun and then fail on ECS, so we are exactly as strict.
const STRING_OPERATORS: readonly QueryOperator[] = ['==', '!=', 'in', '!in', '=~', '!~'];
const ORDERED_OPERATORS: readonly QueryOperator[] = ['==', '!=', '>', '>=', '<', '<='];

function operatorsFor(subject: QuerySubject): readonly QueryOperator[] | undefined {
  switch (subject.kind) {
    case 'attribute':
      return undefined; // all of them
    case 'agentConnected':
    case 'ec2InstanceId':
    case 'task:group':
      return STRING_OPERATORS;
    case 'agentVersion':
    case 'registeredAt':
    case 'runningTasksCount':
      return ORDERED_OPERATORS;
  }
}

class Parser {
  private pos = 0;
  /** The last token consumed, as written, for "expected X after 'Y'" messages. */
  private previous = '';
  private depth = 0;

  constructor(private readonly src: string) {}

  parse(): QueryAst {
    this.skipSpace();
    const ast = this.parseOr();
    this.skipSpace();
    if (this.pos < this.src.length) {
      this.fail(
        `expected 'and', 'or' or the end of the expression at position ${this.pos}, found ${this.describe(this.pos)}`,
      );
    }
    return ast;
  }

  private parseOr(): QueryAst {
    const first = this.parseAnd();
    if (!this.acceptConnective('or', '||')) return first;
    const operands = [first, this.parseAnd()];
    while (this.acceptConnective('or', '||')) operands.push(this.parseAnd());
    return { kind: 'or', operands };
  }

  private parseAnd(): QueryAst {
    const first = this.parseUnary();
    if (!this.acceptConnective('and', '&&')) return first;
    const operands = [first, this.parseUnary()];
    while (this.acceptConnective('and', '&&')) operands.push(this.parseUnary());
    return { kind: 'and', operands };
  }

  private parseUnary(): QueryAst {
    this.skipSpace();
    // A predicate always starts with a subject name, so a leading `!` can only be negation.
    const bang = this.src.charCodeAt(this.pos) === BANG;
    if (bang || this.keywordAt(this.pos, 'not')) {
      const start = this.pos;
      this.consume(bang ? 1 : 3);
      this.skipSpace();
      // `not(…)` counts as one level, so the formatter's output never nests deeper than its input.
      const level = this.src.charCodeAt(this.pos) === OPEN_PAREN ? 0 : 1;
      if (level) this.enter(start);
      const operand = this.parseUnary();
      this.depth -= level;
      return { kind: 'not', operand };
    }
    return this.parsePrimary();
  }

  private enter(at: number): void {
    this.depth++;
    if (this.depth > MAX_NESTING_DEPTH) {
      this.fail(`expression nests deeper than ${MAX_NESTING_DEPTH} levels at position ${at}`, at);
    }
  }

  private parsePrimary(): QueryAst {
    const start = this.pos;
    const c = this.src.charCodeAt(start);
    if (c === OPEN_PAREN) {
      this.enter(start);
      this.consume(1);
      const inner = this.parseOr();
      this.skipSpace();
      if (this.src.charCodeAt(this.pos) !== CLOSE_PAREN) {
        this.fail(
          `expected ')' at position ${this.pos} to close the '(' at position ${start}, found ${this.describe(this.pos)}`,
        );
      }
      this.consume(1);
      this.depth--;
      return inner;
    }
    if (!isNameChar(c)) {
      const after = this.previous === '' ? '' : ` after '${this.previous}'`;
      const found = this.pos < this.src.length ? `, found ${this.describe(this.pos)}` : '';
      this.fail(`expected an expression${after} at position ${start}${found}`);
    }
    return this.parsePredicate();
  }

  private parsePredicate(): QueryPredicate {
    const start = this.pos;
    const name = this.src.slice(start, nameEnd(this.src, start));
    const subject = this.subject(name, start);
    this.consume(name.length);

    this.skipSpace();
    const opStart = this.pos;
    const operator = this.operator();
    if (operator === undefined) {
      this.fail(
        `expected an operator after '${name}' at position ${opStart}, found ${this.describe(opStart)}`,
        opStart,
      );
    }
    const opText = this.src.slice(opStart, this.pos);
    const allowed = operatorsFor(subject);
    if (allowed !== undefined && !allowed.includes(operator)) {
      this.fail(
        `operator '${opText}' is not valid for ${name} at position ${opStart}; use ${allowed.join(', ')}`,
        opStart,
      );
    }
    switch (operator) {
      case 'exists':
      case '!exists':
        return { kind: 'exists', subject, negated: operator === '!exists' };
      case '==':
      case '!=':
        return {
          kind: 'equals',
          subject,
          negated: operator === '!=',
          values: [this.value(subject, false)],
        };
      case 'in':
      case '!in':
        return { kind: 'equals', subject, negated: operator === '!in', values: this.valueList(subject) };
      case '>':
      case '>=':
      case '<':
      case '<=':
        return { kind: 'compare', subject, operator, value: this.value(subject, true) };
      case '=~':
      case '!~': {
        const { pattern, regex } = this.pattern();
        return { kind: 'matches', subject, negated: operator === '!~', pattern, regex };
      }
    }
  }

  private subject(name: string, start: number): QuerySubject {
    const simple = SIMPLE_SUBJECTS.get(name);
    if (simple !== undefined) return simple;
    if (name.startsWith('attribute:')) {
      const attribute = name.slice('attribute:'.length);
      if (attribute === '') {
        this.fail(
          `expected an attribute name after 'attribute:' at position ${start + name.length}`,
          start + name.length,
        );
      }
      if (attribute.length > MAX_ATTRIBUTE_NAME_LENGTH) {
        const at = start + 'attribute:'.length;
        this.fail(
          `attribute name at position ${at} is longer than ${MAX_ATTRIBUTE_NAME_LENGTH} characters`,
          at,
        );
      }
      return { kind: 'attribute', name: attribute };
    }
    this.fail(`unknown subject '${name}' at position ${start}; expected ${SUBJECT_NAMES}`, start);
  }

  /** Consumes an operator and returns it, or returns undefined and consumes nothing. */
  private operator(): QueryOperator | undefined {
    const { src, pos } = this;
    for (const [symbol, operator] of SYMBOL_OPERATORS) {
      if (!src.startsWith(symbol, pos)) continue;
      // `!inside` is not `!in` followed by `side`.
      if (isLetter(symbol.charCodeAt(symbol.length - 1)) && isNameChar(src.charCodeAt(pos + symbol.length))) {
        continue;
      }
      this.consume(symbol.length);
      return operator;
    }
    const end = nameEnd(src, pos);
    const operator = WORD_OPERATORS.get(src.slice(pos, end).toLowerCase());
    if (operator !== undefined) this.consume(end - pos);
    return operator;
  }

  private valueList(subject: QuerySubject): QueryValue[] {
    this.skipSpace();
    const open = this.pos;
    // ECS writes lists in brackets; a lone value is accepted as a one-element list.
    if (this.src.charCodeAt(open) !== OPEN_BRACKET) return [this.value(subject, false)];
    this.consume(1);
    const values: QueryValue[] = [];
    for (;;) {
      values.push(this.value(subject, false));
      this.skipSpace();
      const c = this.src.charCodeAt(this.pos);
      if (c === COMMA) {
        this.consume(1);
      } else if (c === CLOSE_BRACKET) {
        this.consume(1);
        return values;
      } else {
        this.fail(
          `expected ',' or ']' at position ${this.pos} in the list opened at position ${open}, found ${this.describe(this.pos)}`,
        );
      }
    }
  }

  /** One argument, typed for its subject. `ordering` is true for `>`, `>=`, `<`, `<=`. */
  private value(subject: QuerySubject, ordering: boolean): QueryValue {
    this.skipSpace();
    const start = this.pos;
    const text = this.word(bareValueEnd, 'a value');
    switch (subject.kind) {
      case 'attribute':
      case 'ec2InstanceId':
      case 'task:group':
        // Wildcards belong to equality (ECS: `attribute:ecs.instance-type == t2.*`); in an ordering a
        // `*` is just a character.
        if (!ordering && text.includes('*')) return wildcardValue(text);
        return { kind: 'text', text, number: decimalValue(text) };
      case 'agentConnected': {
        const lower = text.toLowerCase();
        if (lower === 'true' || lower === 'false') return { kind: 'boolean', text, value: lower === 'true' };
        return this.fail(
          `expected true or false for agentConnected at position ${start}, found '${text}'`,
          start,
        );
      }
      case 'runningTasksCount': {
        const value = /^[0-9]+$/.test(text) ? Number(text) : Number.NaN;
        if (Number.isSafeInteger(value)) return { kind: 'number', text, value };
        return this.fail(
          `expected a whole number for runningTasksCount at position ${start}, found '${text}'`,
          start,
        );
      }
      case 'agentVersion': {
        const version = parseVersion(text);
        if (version !== undefined) return { kind: 'version', text, ...version };
        return this.fail(
          `expected a version like 1.2.3 for agentVersion at position ${start}, found '${text}'`,
          start,
        );
      }
      case 'registeredAt': {
        const interval = parseDate(text);
        if (interval !== undefined) return { kind: 'date', text, from: interval.from, until: interval.until };
        return this.fail(
          `expected a date like 2024-01-01 or 2024-01-01T12:00:00Z for registeredAt at position ${start}, found '${text}'`,
          start,
        );
      }
    }
  }

  private pattern(): { pattern: string; regex: RegExp } {
    this.skipSpace();
    const start = this.pos;
    const pattern = this.word(bareRegexEnd, 'a regular expression');
    if (pattern.length > MAX_PATTERN_LENGTH) {
      this.fail(
        `regular expression at position ${start} is longer than ${MAX_PATTERN_LENGTH} characters`,
        start,
      );
    }
    const nested = nestedRepetitionAt(pattern);
    if (nested >= 0) {
      this.fail(
        `regular expression at position ${start} repeats a group that itself repeats ('${pattern.slice(0, nested + 1)}'), which can take exponential time; repeat only one of them`,
        start,
      );
    }
    // Java's inline flag for case-insensitive matching; JavaScript wants it as a flag instead.
    const caseInsensitive = pattern.startsWith('(?i)');
    const body = caseInsensitive ? pattern.slice(4) : pattern;
    const flags = caseInsensitive ? 'i' : '';
    try {
      // Compiled alone first: a body with unbalanced groups such as `a)|(b` would otherwise escape
      // the anchoring wrapper below and still compile.
      new RegExp(body, flags);
    } catch (e) {
      const reason = e instanceof Error ? e.message.slice(e.message.lastIndexOf(': ') + 2) : String(e);
      this.fail(`invalid regular expression at position ${start}: ${reason}`, start);
    }
    // Anchored because ECS's `=~` is Java's `String.matches`, a whole-string match: its documented
    // examples write `t2.*` where an unanchored search would need only `t2`.
    return { pattern, regex: new RegExp(`^(?:${body})$`, flags) };
  }

  /** A quoted string, or a bare run of characters ending where `bareEnd` says. */
  private word(bareEnd: (s: string, from: number) => number, what: string): string {
    const start = this.pos;
    const c = this.src.charCodeAt(start);
    if (c === SINGLE_QUOTE || c === DOUBLE_QUOTE) return this.quoted();
    const end = bareEnd(this.src, start);
    if (end === start) {
      this.fail(
        `expected ${what} after '${this.previous}' at position ${start}, found ${this.describe(start)}`,
      );
    }
    this.consume(end - start);
    return this.src.slice(start, end);
  }

  /**
   * `'…'` or `"…"`; the quote character is written twice to include it (`'it''s'`), as in SQL.
   * Backslashes are left alone so regular expressions can be quoted without doubling them.
   */
  private quoted(): string {
    const start = this.pos;
    const quote = this.src[start] ?? '';
    let text = '';
    let from = start + 1;
    for (;;) {
      const close = this.src.indexOf(quote, from);
      if (close < 0) this.fail(`unterminated string starting at position ${start}`, start);
      text += this.src.slice(from, close);
      if (this.src[close + 1] === quote) {
        text += quote;
        from = close + 2;
        continue;
      }
      this.consume(close + 1 - start);
      return text;
    }
  }

  private acceptConnective(word: string, symbol: string): boolean {
    this.skipSpace();
    if (this.src.startsWith(symbol, this.pos)) {
      this.consume(symbol.length);
      return true;
    }
    if (this.keywordAt(this.pos, word)) {
      this.consume(word.length);
      return true;
    }
    return false;
  }

  /** Keywords are case-insensitive and must end at a word boundary (`order` is not `or der`). */
  private keywordAt(at: number, word: string): boolean {
    return (
      this.src.slice(at, at + word.length).toLowerCase() === word &&
      !isNameChar(this.src.charCodeAt(at + word.length))
    );
  }

  private consume(length: number): void {
    this.previous = this.src.slice(this.pos, this.pos + length);
    this.pos += length;
  }

  private skipSpace(): void {
    while (this.pos < this.src.length && isSpace(this.src.charCodeAt(this.pos))) this.pos++;
  }

  private describe(at: number): string {
    if (at >= this.src.length) return 'the end of the expression';
    const c = this.src.charCodeAt(at);
    let end = at + 1;
    if (isNameChar(c)) end = nameEnd(this.src, at);
    else if (isOperatorChar(c))
      while (end < this.src.length && isOperatorChar(this.src.charCodeAt(end))) end++;
    return `'${this.src.slice(at, Math.min(end, at + 24))}'`;
  }

  private fail(message: string, position = this.pos): never {
    throw new ParseFailure({ message, position });
  }
}
