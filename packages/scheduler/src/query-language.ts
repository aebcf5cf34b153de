/**
 * The ECS cluster query language: the expressions of `memberOf` placement constraints, e.g.
 * `attribute:bosun.cpu-architecture == arm64 and not(task:group == database)`.
 *
 * Parsing does all the work that can be done once — typing arguments, compiling regular expressions and
 * wildcards, converting dates — so that evaluation, which placement runs for every (task, instance) pair,
 * is a walk over a small tree that neither allocates nor re-parses.
 *
 * The parser is a hand-written recursive descent: the grammar is a dozen rules, and a generated parser
 * would add a dependency and a build step while giving worse error messages and slower start-up.
 */
import { err, ok, type Result } from '@bosun/model';

/** ECS refuses longer expressions; so do we, which also bounds parse time and nesting depth. */
export const MAX_EXPRESSION_LENGTH = 2000;

/**
 * JavaScript regular expressions backtrack and cannot be interrupted, and a pattern is matched for
 * every candidate instance, so one catastrophic pattern would stall the scheduler. Two guards: patterns
 * are capped at this length (and the strings they meet — attribute values, ids, groups — are short), and
 * nested unbounded repetition like `(a+)+`, the classic exponential shape, is refused at parse time.
 * Neither makes every pattern linear (`(a|aa)+` still backtracks), but both keep the worst case to what
 * a short pattern on a short string can do.
 */
export const MAX_PATTERN_LENGTH = 256;

/**
 * Parentheses and negations deeper than this are refused: real constraints nest a few levels, and the
 * parser, evaluator and formatter recurse, so 2000 `(` would otherwise overflow the stack.
 */
export const MAX_NESTING_DEPTH = 64;

/** Same limit as the agent protocol's attribute names. */
const MAX_ATTRIBUTE_NAME_LENGTH = 128;

export type QueryOperator =
  | '=='
  | '!='
  | '>'
  | '>='
  | '<'
  | '<='
  | 'exists'
  | '!exists'
  | 'in'
  | '!in'
  | '=~'
  | '!~';

export type QuerySubject =
  | { readonly kind: 'agentConnected' }
  | { readonly kind: 'agentVersion' }
  | { readonly kind: 'attribute'; readonly name: string }
  | { readonly kind: 'ec2InstanceId' }
  | { readonly kind: 'registeredAt' }
  | { readonly kind: 'runningTasksCount' }
  | { readonly kind: 'task:group' };

/**
 * An argument, already converted to what its subject compares against. `text` is always the value
 * as written (quotes removed), so formatting reproduces the user's spelling.
 */
export type QueryValue =
  /** A string; `number` is set when it looks like a decimal number, for ordering attribute values. */
  | { readonly kind: 'text'; readonly text: string; readonly number: number | undefined }
  /** A string with `*` wildcards, split at the stars: `prefix*middle[0]*…*suffix`. */
  | {
      readonly kind: 'wildcard';
      readonly text: string;
      readonly prefix: string;
      readonly middle: readonly string[];
      readonly suffix: string;
    }
  | { readonly kind: 'boolean'; readonly text: string; readonly value: boolean }
  | { readonly kind: 'number'; readonly text: string; readonly value: number }
  | {
      readonly kind: 'version';
      readonly text: string;
      /** Numeric parts, then the prerelease without its `-` ('' if none); build metadata is ignored. */
      readonly core: readonly number[];
      readonly prerelease: string;
    }
  /** The interval of time the written date covers: a whole day for `2024-01-01`, a second for a time. */
  | { readonly kind: 'date'; readonly text: string; readonly from: number; readonly until: number };

export type QueryPredicate =
  /** `exists` / `!exists` (attributes only). */
  | { readonly kind: 'exists'; readonly subject: QuerySubject; readonly negated: boolean }
  /** `==` / `!=` (one value) and `in` / `!in` (several); `in [a]` is the same predicate as `== a`. */
  | {
      readonly kind: 'equals';
      readonly subject: QuerySubject;
      readonly negated: boolean;
      readonly values: readonly QueryValue[];
    }
  | {
      readonly kind: 'compare';
      readonly subject: QuerySubject;
      readonly operator: '>' | '>=' | '<' | '<=';
      readonly value: QueryValue;
    }
  /** `=~` / `!~`; `regex` is `pattern` compiled and anchored at both ends. */
  | {
      readonly kind: 'matches';
      readonly subject: QuerySubject;
      readonly negated: boolean;
      readonly pattern: string;
      readonly regex: RegExp;
    };

/**
 * `and`/`or` are n-ary for a chain written without parentheses (`a and b and c`); parentheses are kept
 * as nesting, so formatting an AST and parsing it back gives the same tree.
 */
export type QueryAst =
  | { readonly kind: 'and'; readonly operands: readonly QueryAst[] }
  | { readonly kind: 'or'; readonly operands: readonly QueryAst[] }
  | { readonly kind: 'not'; readonly operand: QueryAst }
  | QueryPredicate;

/** `position` is a 0-based offset into the expression (UTF-16 code units, like `String#slice`). */
export interface QuerySyntaxError {
  message: string;
  position: number;
}

/** What an expression is evaluated against: one container instance and the task groups running on it. */
export interface QueryTarget {
  instanceId: string;
  agentConnected: boolean;
  agentVersion: string;
  registeredAt: number; // epoch ms
  runningTasksCount: number;
  attributes: Readonly<Record<string, string | undefined>>; // name -> value ('' allowed for valueless attributes)
  taskGroups: ReadonlySet<string>; // groups of tasks on the instance (for task:group)
}

// ---------------------------------------------------------------------------------------------------
// Parsing

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

/**
 * Index of the quantifier that repeats a group which already contains unbounded repetition (`*`, `+`,
 * `{n,}`), or -1. Bounded repetition such as `(\d{1,3}\.){3}` is allowed.
 */
function nestedRepetitionAt(pattern: string): number {
  const outer: boolean[] = []; // per open group: did the enclosing group already repeat?
  let repeats: boolean = false; // does the innermost open group contain unbounded repetition?
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
    } else if (inClass) {
      inClass = c !== ']';
    } else if (c === '[') {
      inClass = true;
    } else if (c === '(') {
      outer.push(repeats);
      repeats = false;
    } else if (c === ')') {
      const groupRepeats: boolean = repeats;
      repeats = (outer.pop() ?? false) || groupRepeats;
      if (groupRepeats && isUnboundedQuantifier(pattern, i + 1)) return i + 1;
    } else if (isUnboundedQuantifier(pattern, i)) {
      repeats = true;
    }
  }
  return -1;
}

function isUnboundedQuantifier(pattern: string, at: number): boolean {
  const c = pattern[at];
  return c === '*' || c === '+' || (c === '{' && /^\{[0-9]+,\}/.test(pattern.slice(at, at + 24)));
}

function wildcardValue(text: string): QueryValue {
  const parts = text.split('*');
  return {
    kind: 'wildcard',
    text,
    prefix: parts[0] ?? '',
    middle: parts.slice(1, -1).filter((part) => part !== ''),
    suffix: parts[parts.length - 1] ?? '',
  };
}

const DATE =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?([Zz]|[+-][0-9]{2}:[0-9]{2})?)?$/;
const DAY_MS = 86_400_000;

/**
 * ECS's formats (`2018-06-18`, `2018-06-18T22:28:28`, `…Z`, `…+00:00`) plus fractional seconds, as
 * `Date#toISOString` writes them. A time without a zone is UTC, like everything else in ECS. The result
 * is the interval the text names, so `registeredAt == 2024-01-01` means "on that day".
 */
function parseDate(text: string): { from: number; until: number } | undefined {
  const m = DATE.exec(text);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, fraction, zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999.
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    return undefined;
  }
  if (h === undefined) return { from: date.getTime(), until: date.getTime() + DAY_MS };
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let from = date.getTime() + ((hour * 60 + minute) * 60 + second) * 1000;
  let step = 1000;
  if (fraction !== undefined) {
    from += Number(fraction.slice(0, 3).padEnd(3, '0'));
    step = fraction.length >= 3 ? 1 : 10 ** (3 - fraction.length);
  }
  if (zone !== undefined && zone !== 'Z' && zone !== 'z') {
    const offsetHours = Number(zone.slice(1, 3));
    const offsetMinutes = Number(zone.slice(4, 6));
    if (offsetHours > 23 || offsetMinutes > 59) return undefined;
    from -= (zone[0] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  }
  return { from, until: from + step };
}

// ---------------------------------------------------------------------------------------------------
// Evaluation: no allocation, no parsing, no regex construction — it runs for every candidate instance.

export function evaluateClusterQuery(ast: QueryAst, target: QueryTarget): boolean {
  switch (ast.kind) {
    case 'and':
      for (const operand of ast.operands) if (!evaluateClusterQuery(operand, target)) return false;
      return true;
    case 'or':
      for (const operand of ast.operands) if (evaluateClusterQuery(operand, target)) return true;
      return false;
    case 'not':
      return !evaluateClusterQuery(ast.operand, target);
    // Each negated operator is the exact complement of its positive form, also when the attribute is
    // missing: `attribute:gpu != true` must select the same instances as `not(attribute:gpu == true)`,
    // or rewriting a constraint would silently change placement. Orderings have no negated form, so a
    // missing attribute makes them false.
    case 'exists':
      return (
        (ast.subject.kind !== 'attribute' || isPresent(target.attributes[ast.subject.name])) !== ast.negated
      );
    case 'equals':
      return equalsAny(ast.subject, ast.values, target) !== ast.negated;
    case 'compare':
      return compareHolds(ast.subject, ast.operator, ast.value, target);
    case 'matches':
      return matchesPattern(ast.subject, ast.regex, target) !== ast.negated;
  }
}

/**
 * `attributes` is a plain record, so a name like `constructor` reaches Object.prototype; only a string
 * counts as a value.
 */
function isPresent(value: unknown): value is string {
  return typeof value === 'string';
}

function equalsAny(subject: QuerySubject, values: readonly QueryValue[], target: QueryTarget): boolean {
  switch (subject.kind) {
    case 'attribute': {
      const actual = target.attributes[subject.name];
      if (!isPresent(actual)) return false;
      for (const value of values) if (textMatches(value, actual)) return true;
      return false;
    }
    case 'ec2InstanceId':
      for (const value of values) if (textMatches(value, target.instanceId)) return true;
      return false;
    case 'task:group':
      // True when any task on the instance is in one of the groups, so `!=` means "none is".
      for (const value of values) {
        if (value.kind === 'text') {
          if (target.taskGroups.has(value.text)) return true;
        } else {
          for (const group of target.taskGroups) if (textMatches(value, group)) return true;
        }
      }
      return false;
    case 'agentConnected':
      for (const value of values)
        if (value.kind === 'boolean' && value.value === target.agentConnected) return true;
      return false;
    case 'agentVersion':
      for (const value of values) {
        if (value.kind === 'version' && compareVersionTo(target.agentVersion, value) === 0) return true;
      }
      return false;
    case 'registeredAt':
      for (const value of values) {
        if (value.kind === 'date' && target.registeredAt >= value.from && target.registeredAt < value.until) {
          return true;
        }
      }
      return false;
    case 'runningTasksCount':
      for (const value of values)
        if (value.kind === 'number' && value.value === target.runningTasksCount) return true;
      return false;
  }
}

function textMatches(value: QueryValue, actual: string): boolean {
  if (value.kind === 'text') return value.text === actual;
  if (value.kind !== 'wildcard') return false;
  const { prefix, suffix } = value;
  if (
    actual.length < prefix.length + suffix.length ||
    !actual.startsWith(prefix) ||
    !actual.endsWith(suffix)
  ) {
    return false;
  }
  // Taking the leftmost occurrence of each middle part is always right for `*`-only patterns, so this
  // is linear-ish with no backtracking — unlike translating the wildcard to a regex.
  let from = prefix.length;
  const end = actual.length - suffix.length;
  for (const part of value.middle) {
    const at = actual.indexOf(part, from);
    if (at < 0 || at + part.length > end) return false;
    from = at + part.length;
  }
  return true;
}

function compareHolds(
  subject: QuerySubject,
  operator: '>' | '>=' | '<' | '<=',
  value: QueryValue,
  target: QueryTarget,
): boolean {
  let order: number;
  switch (subject.kind) {
    case 'registeredAt': {
      if (value.kind !== 'date') return false;
      // The argument is an interval: "after 2024-01-01" starts when that day ends.
      const at = target.registeredAt;
      if (operator === '<') return at < value.from;
      if (operator === '<=') return at < value.until;
      if (operator === '>') return at >= value.until;
      return at >= value.from;
    }
    case 'runningTasksCount':
      if (value.kind !== 'number') return false;
      order = target.runningTasksCount - value.value;
      break;
    case 'agentVersion':
      if (value.kind !== 'version') return false;
      order = compareVersionTo(target.agentVersion, value); // NaN for a malformed version
      break;
    case 'attribute': {
      const actual = target.attributes[subject.name];
      if (!isPresent(actual) || value.kind !== 'text') return false;
      // Numbers compare as numbers when both sides look like one (`10 > 9`), anything else by code
      // units, so `attribute:zone < b` still means something.
      const actualNumber = value.number === undefined ? undefined : decimalValue(actual);
      if (value.number !== undefined && actualNumber !== undefined) order = actualNumber - value.number;
      else order = actual < value.text ? -1 : actual > value.text ? 1 : 0;
      break;
    }
    default:
      return false;
  }
  if (operator === '<') return order < 0;
  if (operator === '<=') return order <= 0;
  if (operator === '>') return order > 0;
  return order >= 0;
}

function matchesPattern(subject: QuerySubject, regex: RegExp, target: QueryTarget): boolean {
  switch (subject.kind) {
    case 'attribute': {
      const actual = target.attributes[subject.name];
      return isPresent(actual) && regex.test(actual);
    }
    case 'ec2InstanceId':
      return regex.test(target.instanceId);
    case 'agentConnected':
      return regex.test(target.agentConnected ? 'true' : 'false');
    case 'task:group':
      for (const group of target.taskGroups) if (regex.test(group)) return true;
      return false;
    default:
      return false;
  }
}

/** The number a `-?digits(.digits)?` string spells, or undefined for anything else (hex, `1e3`, '').
 * Like every helper on the evaluation path, it never reads past the end of a string: V8 deoptimizes
 * out-of-bounds `charCodeAt`. */
function decimalValue(s: string): number | undefined {
  const end = s.length;
  let i = end > 0 && s.charCodeAt(0) === MINUS ? 1 : 0;
  const intStart = i;
  i = digitsEnd(s, i, end);
  if (i === intStart) return undefined;
  if (i < end) {
    if (s.charCodeAt(i) !== DOT) return undefined;
    const fractionStart = i + 1;
    i = digitsEnd(s, fractionStart, end);
    if (i === fractionStart || i < end) return undefined;
  }
  return Number(s);
}

// ---------------------------------------------------------------------------------------------------
// Agent versions

const VERSION =
  /^[vV]?([0-9]{1,15}(?:\.[0-9]{1,15})*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

/** Longer numeric parts would lose precision as numbers; no real version has them. */
const MAX_VERSION_DIGITS = 15;

/** A version split once, at parse time, so evaluation scans only the instance's side. */
interface ParsedVersion {
  readonly core: readonly number[];
  /** Without the leading `-`; '' when there is none. */
  readonly prerelease: string;
}

function parseVersion(text: string): ParsedVersion | undefined {
  const m = VERSION.exec(text);
  if (m === null) return undefined;
  return { core: (m[1] ?? '').split('.').map(Number), prerelease: m[2] ?? '' };
}

/**
 * Compares versions the way semver does, with an optional leading `v` and any number of numeric parts
 * of up to 15 digits (missing parts count as 0, so `1.2 == 1.2.0`): `1.2.10 > 1.2.9`, `1.2.0-rc.1 < 1.2.0`, build
 * metadata (`+…`) ignored. Returns a negative number, 0 or a positive number, or NaN when either side
 * is not a version — which makes every ordering false, like a missing attribute.
 */
export function compareAgentVersions(a: string, b: string): number {
  const parsed = parseVersion(b);
  return parsed === undefined ? Number.NaN : compareVersionTo(a, parsed);
}

/**
 * The hot-path half of `compareAgentVersions`: one pass over `s`, no allocation, and no helper calls
 * until a prerelease has to be compared, because V8 stops inlining long before a chain of small
 * scanners and the calls were most of the cost.
 */
function compareVersionTo(s: string, version: ParsedVersion): number {
  const { core } = version;
  const length = s.length;
  let i = length > 0 && (s.charCodeAt(0) === LOWER_V || s.charCodeAt(0) === UPPER_V) ? 1 : 0;
  let part = 0;
  let order = 0;
  for (;;) {
    let c = i < length ? s.charCodeAt(i) : -1;
    if (c < ZERO || c > NINE) return Number.NaN;
    const partStart = i;
    let n = 0;
    do {
      n = n * 10 + (c - ZERO);
      i++;
      c = i < length ? s.charCodeAt(i) : -1;
    } while (c >= ZERO && c <= NINE);
    if (i - partStart > MAX_VERSION_DIGITS) return Number.NaN;
    if (order === 0) {
      const other = part < core.length ? (core[part] ?? 0) : 0;
      if (n !== other) order = n < other ? -1 : 1;
    }
    part++;
    if (c !== DOT) break;
    i++;
  }
  for (; order === 0 && part < core.length; part++) if ((core[part] ?? 0) !== 0) order = -1;

  const prereleaseStart = i + 1;
  let prereleaseEnd = i;
  if (i < length && s.charCodeAt(i) === MINUS) {
    prereleaseEnd = identifiersEnd(s, prereleaseStart);
    if (prereleaseEnd < 0) return Number.NaN;
    i = prereleaseEnd;
  }
  if (i < length && (s.charCodeAt(i) !== PLUS || identifiersEnd(s, i + 1) !== length)) return Number.NaN;
  if (order !== 0) return order;

  const hasPrerelease = prereleaseEnd > prereleaseStart - 1;
  const otherHasPrerelease = version.prerelease !== '';
  if (!hasPrerelease || !otherHasPrerelease) {
    return hasPrerelease === otherHasPrerelease ? 0 : hasPrerelease ? -1 : 1;
  }
  return comparePrereleases(s, prereleaseStart, prereleaseEnd, version.prerelease);
}

/** Semver precedence of dot-separated identifiers: numbers numerically and before words; fewer first. */
function comparePrereleases(a: string, aFrom: number, aEnd: number, b: string): number {
  const bEnd = b.length;
  let i = aFrom;
  let j = 0;
  for (;;) {
    const aDone = i >= aEnd;
    const bDone = j >= bEnd;
    if (aDone || bDone) return aDone === bDone ? 0 : aDone ? -1 : 1;
    const iEnd = identifierEnd(a, i, aEnd);
    const jEnd = identifierEnd(b, j, bEnd);
    const aNumeric = digitsEnd(a, i, iEnd) === iEnd;
    const bNumeric = digitsEnd(b, j, jEnd) === jEnd;
    let order: number;
    if (aNumeric && bNumeric) order = compareDigitRuns(a, i, iEnd, b, j, jEnd);
    else if (aNumeric || bNumeric) order = aNumeric ? -1 : 1;
    else order = compareCodeUnits(a, i, iEnd, b, j, jEnd);
    if (order !== 0) return order;
    i = iEnd + 1;
    j = jEnd + 1;
  }
}

/** End of `ident(.ident)*` from `from`, or -1. */
function identifiersEnd(s: string, from: number): number {
  let i = from;
  for (;;) {
    const start = i;
    while (i < s.length && isIdentifierChar(s.charCodeAt(i))) i++;
    if (i === start) return -1;
    if (i === s.length || s.charCodeAt(i) !== DOT) return i;
    i++;
  }
}

function identifierEnd(s: string, from: number, end: number): number {
  let i = from;
  while (i < end && s.charCodeAt(i) !== DOT) i++;
  return i;
}

function digitsEnd(s: string, from: number, end: number): number {
  let i = from;
  while (i < end && isDigit(s.charCodeAt(i))) i++;
  return i;
}

/** Compares two digit runs as numbers without converting them. */
function compareDigitRuns(
  a: string,
  aFrom: number,
  aEnd: number,
  b: string,
  bFrom: number,
  bEnd: number,
): number {
  let i = aFrom;
  let j = bFrom;
  while (i < aEnd && a.charCodeAt(i) === ZERO) i++;
  while (j < bEnd && b.charCodeAt(j) === ZERO) j++;
  if (aEnd - i !== bEnd - j) return aEnd - i - (bEnd - j);
  return compareCodeUnits(a, i, aEnd, b, j, bEnd);
}

function compareCodeUnits(
  a: string,
  aFrom: number,
  aEnd: number,
  b: string,
  bFrom: number,
  bEnd: number,
): number {
  let i = aFrom;
  let j = bFrom;
  while (i < aEnd && j < bEnd) {
    const order = a.charCodeAt(i) - b.charCodeAt(j);
    if (order !== 0) return order;
    i++;
    j++;
  }
  return aEnd - i - (bEnd - j);
}

// ---------------------------------------------------------------------------------------------------
// Formatting

/**
 * Prints an AST in canonical form: symbolic operators, `not(…)`, single quotes only where a value
 * needs them, parentheses only where the tree has nesting. Parsing the result gives an equal AST.
 */
export function formatClusterQuery(ast: QueryAst): string {
  switch (ast.kind) {
    case 'and':
      return ast.operands
        .map((o) =>
          o.kind === 'and' || o.kind === 'or' ? `(${formatClusterQuery(o)})` : formatClusterQuery(o),
        )
        .join(' and ');
    case 'or':
      return ast.operands
        .map((o) => (o.kind === 'or' ? `(${formatClusterQuery(o)})` : formatClusterQuery(o)))
        .join(' or ');
    case 'not':
      return `not(${formatClusterQuery(ast.operand)})`;
    case 'exists':
      return `${formatSubject(ast.subject)} ${ast.negated ? '!exists' : 'exists'}`;
    case 'equals': {
      const [only, ...rest] = ast.values;
      if (only !== undefined && rest.length === 0) {
        return `${formatSubject(ast.subject)} ${ast.negated ? '!=' : '=='} ${formatText(only.text, bareValueEnd)}`;
      }
      const list = ast.values.map((v) => formatText(v.text, bareValueEnd)).join(', ');
      return `${formatSubject(ast.subject)} ${ast.negated ? '!in' : 'in'} [${list}]`;
    }
    case 'compare':
      return `${formatSubject(ast.subject)} ${ast.operator} ${formatText(ast.value.text, bareValueEnd)}`;
    case 'matches':
      return `${formatSubject(ast.subject)} ${ast.negated ? '!~' : '=~'} ${formatText(ast.pattern, bareRegexEnd)}`;
  }
}

function formatSubject(subject: QuerySubject): string {
  return subject.kind === 'attribute' ? `attribute:${subject.name}` : subject.kind;
}

function formatText(text: string, bareEnd: (s: string, from: number) => number): string {
  const c = text.charCodeAt(0);
  const bare = text !== '' && c !== SINGLE_QUOTE && c !== DOUBLE_QUOTE && bareEnd(text, 0) === text.length;
  return bare ? text : `'${text.replaceAll("'", "''")}'`;
}

// ---------------------------------------------------------------------------------------------------
// Characters

const SPACE = 0x20;
const BANG = 0x21; // !
const DOUBLE_QUOTE = 0x22;
const AMPERSAND = 0x26;
const SINGLE_QUOTE = 0x27;
const OPEN_PAREN = 0x28;
const CLOSE_PAREN = 0x29;
const PLUS = 0x2b;
const COMMA = 0x2c;
const MINUS = 0x2d;
const DOT = 0x2e;
const SLASH = 0x2f;
const ZERO = 0x30;
const NINE = 0x39;
const COLON = 0x3a;
const LESS = 0x3c;
const EQUALS = 0x3d;
const GREATER = 0x3e;
const UPPER_A = 0x41;
const UPPER_V = 0x56;
const UPPER_Z = 0x5a;
const OPEN_BRACKET = 0x5b;
const BACKSLASH = 0x5c;
const CLOSE_BRACKET = 0x5d;
const UNDERSCORE = 0x5f;
const LOWER_A = 0x61;
const LOWER_V = 0x76;
const LOWER_Z = 0x7a;
const PIPE = 0x7c;
const TILDE = 0x7e;

/** Every control character counts as space, so none can hide inside a bare word. */
function isSpace(c: number): boolean {
  return c <= SPACE;
}

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

function isLetter(c: number): boolean {
  return (c >= UPPER_A && c <= UPPER_Z) || (c >= LOWER_A && c <= LOWER_Z);
}

/** Subjects, attribute names (the agent protocol's `[A-Za-z0-9_.:/-]`), keywords and word operators. */
function isNameChar(c: number): boolean {
  return (
    isLetter(c) || isDigit(c) || c === DOT || c === MINUS || c === UNDERSCORE || c === SLASH || c === COLON
  );
}

function isIdentifierChar(c: number): boolean {
  return isLetter(c) || isDigit(c) || c === MINUS;
}

function isOperatorChar(c: number): boolean {
  return (
    c === EQUALS || c === BANG || c === LESS || c === GREATER || c === TILDE || c === AMPERSAND || c === PIPE
  );
}

function nameEnd(s: string, from: number): number {
  let i = from;
  while (i < s.length && isNameChar(s.charCodeAt(i))) i++;
  return i;
}

/** A bare value runs until space or a character the grammar uses; quote a value to include those. */
function bareValueEnd(s: string, from: number): number {
  let i = from;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (
      isSpace(c) ||
      isOperatorChar(c) ||
      c === OPEN_PAREN ||
      c === CLOSE_PAREN ||
      c === OPEN_BRACKET ||
      c === CLOSE_BRACKET ||
      c === COMMA ||
      c === SINGLE_QUOTE ||
      c === DOUBLE_QUOTE
    ) {
      break;
    }
  }
  return i;
}

/**
 * A bare pattern may use the regex characters the grammar also uses (`(a|b)`, `[0-9]+`), so it runs
 * until space, a `)` that closes a group it did not open, or `&&`/`||` outside any group. Quote a
 * pattern that needs anything else.
 */
function bareRegexEnd(s: string, from: number): number {
  let depth = 0;
  let inClass = false;
  let i = from;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (isSpace(c)) break;
    if (c === BACKSLASH) {
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === CLOSE_BRACKET) inClass = false;
    } else if (c === OPEN_BRACKET) {
      inClass = true;
    } else if (c === OPEN_PAREN) {
      depth++;
    } else if (c === CLOSE_PAREN) {
      if (depth === 0) break;
      depth--;
    } else if (depth === 0 && (c === AMPERSAND || c === PIPE) && s.charCodeAt(i + 1) === c) {
      break;
    }
    i++;
  }
  return Math.min(i, s.length);
}
