import type { TagPair } from '@bosun/model';
import { and, asc, eq, inArray } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { tags } from '../db/schema/index.ts';

export async function listTags(tx: Tx, resourceArn: string): Promise<TagPair[]> {
  return tx
    .select({ key: tags.key, value: tags.value })
    .from(tags)
    .where(eq(tags.resourceArn, resourceArn))
    .orderBy(asc(tags.key));
}

/** Adds or overwrites the given keys, as TagResource does. */
export async function putTags(tx: Tx, resourceArn: string, pairs: readonly TagPair[]): Promise<void> {
  if (pairs.length === 0) return;
  for (const p of pairs) {
    await tx
      .insert(tags)
      .values({ resourceArn, key: p.key, value: p.value })
      .onConflictDoUpdate({ target: [tags.resourceArn, tags.key], set: { value: p.value } });
  }
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
