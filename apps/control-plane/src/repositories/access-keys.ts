import { eq } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.ts';
import { accessKeys } from '../db/schema/index.ts';

export type AccessKeyRow = typeof accessKeys.$inferSelect;

const KEY_LOCK_ID = 0x626f73756e02;

/**
 * Serialises the creation of keys until the transaction ends, so two control planes starting together
 * agree on one admin key.
 */
export async function lockAccessKeys(tx: Tx): Promise<void> {
  await tx.execute(`select pg_advisory_xact_lock(${KEY_LOCK_ID})`);
}

export async function findAccessKeyByName(tx: Tx, name: string): Promise<AccessKeyRow | undefined> {
  const [row] = await tx.select().from(accessKeys).where(eq(accessKeys.name, name));
  return row;
}

export async function findAccessKey(db: Db, accessKeyId: string): Promise<AccessKeyRow | undefined> {
  const [row] = await db.select().from(accessKeys).where(eq(accessKeys.accessKeyId, accessKeyId));
  return row;
}

export async function insertAccessKey(
  tx: Tx,
  key: Pick<AccessKeyRow, 'accessKeyId' | 'secretCiphertext' | 'name' | 'status'>,
): Promise<void> {
  await tx.insert(accessKeys).values(key);
}
