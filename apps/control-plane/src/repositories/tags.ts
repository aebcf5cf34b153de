import type { TagPair } from '@bosun/model';
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { tags } from '../db/schema/index.ts';

export async function listTags(tx: Tx, resourceArn: string): Promise<TagPair[]> {
  return tx
    .select({ key: tags.key, value: tags.value })
    .from(tags)
    .where(eq(tags.resourceArn, resourceArn))
    .orderBy(asc(tags.key));
}

/** The tags of each resource (none: an empty list), as listTags orders them, in one query. */
export async function listTagsOfMany(
  tx: Tx,
  resourceArns: readonly string[],
): Promise<Map<string, TagPair[]>> {
  const out = new Map<string, TagPair[]>(resourceArns.map((arn) => [arn, []]));
  if (out.size === 0) return out;
  const rows = await tx
    .select({ resourceArn: tags.resourceArn, key: tags.key, value: tags.value })
    .from(tags)
    .where(inArray(tags.resourceArn, [...out.keys()]))
    .orderBy(asc(tags.resourceArn), asc(tags.key));
  for (const r of rows) out.get(r.resourceArn)?.push({ key: r.key, value: r.value });
  return out;
}

/** Adds or overwrites the given keys, as TagResource does. */
export async function putTags(tx: Tx, resourceArn: string, pairs: readonly TagPair[]): Promise<void> {
  await putTagsOfMany(tx, [{ resourceArn, pairs }]);
}

/**
 * Tags of many resources in one statement (a placement batch creates hundreds of tasks at once). A key
 * given twice for one resource keeps its last value, as with one TagResource call after another.
 */
export async function putTagsOfMany(
  tx: Tx,
  resources: readonly { resourceArn: string; pairs: readonly TagPair[] }[],
): Promise<void> {
  const rows = new Map<string, { resourceArn: string; key: string; value: string }>();
  for (const { resourceArn, pairs } of resources) {
    for (const p of pairs) rows.set(`${resourceArn}\n${p.key}`, { resourceArn, key: p.key, value: p.value });
  }
  if (rows.size === 0) return;
  await tx
    .insert(tags)
    .values([...rows.values()])
    .onConflictDoUpdate({ target: [tags.resourceArn, tags.key], set: { value: sql`excluded.value` } });
}

export async function removeTags(tx: Tx, resourceArn: string, keys?: readonly string[]): Promise<void> {
  if (keys === undefined) {
    await tx.delete(tags).where(eq(tags.resourceArn, resourceArn));
  } else if (keys.length > 0) {
    await tx.delete(tags).where(and(eq(tags.resourceArn, resourceArn), inArray(tags.key, [...keys])));
  }
}

export async function countTags(tx: Tx, resourceArn: string): Promise<number> {
  return (await listTags(tx, resourceArn)).length;
}
