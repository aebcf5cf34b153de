/**
 * The ECS cluster query language's vocabulary: the AST that parsing produces and evaluation walks, the
 * instance it is evaluated against (`QueryTarget`), and the limits every expression is held to.
 */

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
export const MAX_ATTRIBUTE_NAME_LENGTH = 128;

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
