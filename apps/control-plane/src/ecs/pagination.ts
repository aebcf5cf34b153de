import { InvalidParameterError } from '@bosun/model';
import { z } from 'zod';

/** `maxResults` as ECS takes it on List* actions. */
export const maxResults = z.number().int().min(1).max(100).optional();
export const nextToken = z.string().max(2048).optional();

export type Cursor = (string | number)[];

/** Keyset pagination: the token is the sort key of the last item returned, opaque to clients. */
export function encodeToken(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

export function decodeToken(token: string | undefined, shape: ('string' | 'number')[]): Cursor | undefined {
  if (token === undefined || token === '') return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === shape.length &&
      value.every((v, i) => typeof v === shape[i])
    ) {
      return value as Cursor;
    }
  } catch {
    // fall through to the error below
  }
  throw new InvalidParameterError(
    'Invalid nextToken: pass the nextToken value from the previous response as is.',
  );
}

/** Fetch limit+1 rows, return `limit` of them and a token when there are more. */
export function page<T>(
  rows: T[],
  limit: number,
  cursorOf: (row: T) => Cursor,
): { items: T[]; nextToken?: string } {
  if (rows.length <= limit) return { items: rows };
  const items = rows.slice(0, limit);
  return { items, nextToken: encodeToken(cursorOf(items[items.length - 1] as T)) };
}
