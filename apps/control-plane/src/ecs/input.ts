import { InvalidParameterError } from '@bosun/model';
import type { z } from 'zod';

/**
 * Validates an action's input with its zod schema, reporting the first problem the way AWS does:
 * the path of the offending value and the constraint it broke.
 */
export function parseActionInput<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const first = issues[0];
  const where = first && first.path.length > 0 ? formatPath(first.path) : 'the request';
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  throw new InvalidParameterError(
    `${issues.length} validation error${issues.length > 1 ? 's' : ''} detected: ` +
      `Value at '${where}' failed to satisfy constraint: ${first?.message ?? 'invalid'}${more}`,
  );
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

/**
 * Postgres cannot store NUL in text or jsonb and lone surrogates are not valid UTF-8, so such
 * strings are refused up front rather than failing deep inside a write. Iterative, because a
 * hostile body can nest deeper than the call stack.
 */
export function assertStorableStrings(value: unknown): void {
  // Each entry links to its parent instead of copying the path, so deep nesting stays linear.
  type Step = { v: unknown; key: string | number | undefined; parent: Step | undefined };
  const pathOf = (step: Step): (string | number)[] => {
    const path: (string | number)[] = [];
    for (let s: Step | undefined = step; s?.key !== undefined; s = s.parent) path.unshift(s.key);
    return path;
  };
  const stack: Step[] = [{ v: value, key: undefined, parent: undefined }];
  while (stack.length > 0) {
    const step = stack.pop() as Step;
    const v = step.v;
    if (typeof v === 'string') {
      if (v.includes('\u0000') || !v.isWellFormed()) {
        throw new InvalidParameterError(
          `Value at '${formatPath(pathOf(step)) || 'the request'}' must be valid Unicode text without NUL characters.`,
        );
      }
    } else if (Array.isArray(v)) {
      for (const [i, item] of v.entries()) stack.push({ v: item, key: i, parent: step });
    } else if (v !== null && typeof v === 'object') {
      for (const [k, item] of Object.entries(v)) {
        if (k.includes('\u0000') || !k.isWellFormed()) {
          throw new InvalidParameterError('Object keys must be valid Unicode text without NUL characters.');
        }
        stack.push({ v: item, key: k, parent: step });
      }
    }
  }
}

declare global {
  interface String {
    /** ES2024, present in Node 20; declared here because the ES2023 lib we target for Node 20 lacks it. */
    isWellFormed(): boolean;
  }
}
