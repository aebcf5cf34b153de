/** Evaluation: no allocation, no parsing, no regex construction — it runs for every candidate instance. */
import { compareVersionTo, digitsEnd } from './agent-version.ts';
import type { QueryAst, QuerySubject, QueryTarget, QueryValue } from './ast.ts';
import { DOT, MINUS } from './characters.ts';

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
export function decimalValue(s: string): number | undefined {
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
