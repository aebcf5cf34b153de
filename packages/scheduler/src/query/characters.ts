/** Character codes and the character classes the parser and the formatter share. */

const SPACE = 0x20;
export const BANG = 0x21; // !
export const DOUBLE_QUOTE = 0x22;
const AMPERSAND = 0x26;
export const SINGLE_QUOTE = 0x27;
export const OPEN_PAREN = 0x28;
export const CLOSE_PAREN = 0x29;
export const PLUS = 0x2b;
export const COMMA = 0x2c;
export const MINUS = 0x2d;
export const DOT = 0x2e;
const SLASH = 0x2f;
export const ZERO = 0x30;
export const NINE = 0x39;
const COLON = 0x3a;
const LESS = 0x3c;
const EQUALS = 0x3d;
const GREATER = 0x3e;
const UPPER_A = 0x41;
export const UPPER_V = 0x56;
const UPPER_Z = 0x5a;
export const OPEN_BRACKET = 0x5b;
const BACKSLASH = 0x5c;
export const CLOSE_BRACKET = 0x5d;
const UNDERSCORE = 0x5f;
const LOWER_A = 0x61;
export const LOWER_V = 0x76;
const LOWER_Z = 0x7a;
const PIPE = 0x7c;
const TILDE = 0x7e;

/** Every control character counts as space, so none can hide inside a bare word. */
export function isSpace(c: number): boolean {
  return c <= SPACE;
}

export function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

export function isLetter(c: number): boolean {
  return (c >= UPPER_A && c <= UPPER_Z) || (c >= LOWER_A && c <= LOWER_Z);
}

/** Subjects, attribute names (the agent protocol's `[A-Za-z0-9_.:/-]`), keywords and word operators. */
export function isNameChar(c: number): boolean {
  return (
    isLetter(c) || isDigit(c) || c === DOT || c === MINUS || c === UNDERSCORE || c === SLASH || c === COLON
  );
}

export function isIdentifierChar(c: number): boolean {
  return isLetter(c) || isDigit(c) || c === MINUS;
}

export function isOperatorChar(c: number): boolean {
  return (
    c === EQUALS || c === BANG || c === LESS || c === GREATER || c === TILDE || c === AMPERSAND || c === PIPE
  );
}

export function nameEnd(s: string, from: number): number {
  let i = from;
  while (i < s.length && isNameChar(s.charCodeAt(i))) i++;
  return i;
}

/** A bare value runs until space or a character the grammar uses; quote a value to include those. */
export function bareValueEnd(s: string, from: number): number {
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
export function bareRegexEnd(s: string, from: number): number {
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
