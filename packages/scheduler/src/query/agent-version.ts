/** Agent versions: semver-like comparison with any number of numeric parts, without allocating. */
import { DOT, isDigit, isIdentifierChar, LOWER_V, MINUS, NINE, PLUS, UPPER_V, ZERO } from './characters.ts';

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

export function parseVersion(text: string): ParsedVersion | undefined {
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
export function compareVersionTo(s: string, version: ParsedVersion): number {
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

export function digitsEnd(s: string, from: number, end: number): number {
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
