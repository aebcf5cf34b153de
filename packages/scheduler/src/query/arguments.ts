/** Typed arguments the parser prepares once: safe regular expressions, wildcards and date intervals. */
import type { QueryValue } from './ast.ts';

/**
 * Index of the quantifier that repeats a group which already contains unbounded repetition (`*`, `+`,
 * `{n,}`), or -1. Bounded repetition such as `(\d{1,3}\.){3}` is allowed.
 */
export function nestedRepetitionAt(pattern: string): number {
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

export function wildcardValue(text: string): QueryValue {
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
export function parseDate(text: string): { from: number; until: number } | undefined {
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
