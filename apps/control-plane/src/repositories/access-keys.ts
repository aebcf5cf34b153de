import { and, asc, desc, eq, sql } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.ts';
import { accessKeys } from '../db/schema/index.ts';

export type AccessKeyRow = typeof accessKeys.$inferSelect;

const KEY_LOCK_ID = 0x626f73756e02;

/**
 * Serialises changes to keys until the transaction ends: two control planes starting together agree
 * on one admin key, and two CreateAccessKey calls for one user cannot both pass the two-key limit.
 */
export async function lockAccessKeys(tx: Tx): Promise<void> {
  await tx.execute(`select pg_advisory_xact_lock(${KEY_LOCK_ID})`);
}

/** A user's keys, oldest first. */
export async function findAccessKeysOfUser(tx: Tx, name: string): Promise<AccessKeyRow[]> {
  return tx.select().from(accessKeys).where(eq(accessKeys.name, name)).orderBy(asc(accessKeys.createdAt));
}

export async function findAccessKey(db: Db, accessKeyId: string): Promise<AccessKeyRow | undefined> {
  const [row] = await db.select().from(accessKeys).where(eq(accessKeys.accessKeyId, accessKeyId));
  return row;
}

export async function insertAccessKey(
  tx: Tx,
  key: Pick<AccessKeyRow, 'accessKeyId' | 'secretCiphertext' | 'name' | 'status' | 'policy' | 'policyName'>,
): Promise<AccessKeyRow> {
  const [row] = await tx.insert(accessKeys).values(key).returning();
  return row as AccessKeyRow;
}

/** Every key, or one user's, by user then age. */
export async function listAccessKeys(db: Db, userName?: string): Promise<AccessKeyRow[]> {
  return db
    .select()
    .from(accessKeys)
    .where(userName === undefined ? undefined : eq(accessKeys.name, userName))
    .orderBy(asc(accessKeys.name), asc(accessKeys.createdAt));
}

/** Sets a key's status; undefined when there is no such key (of that user, when one is named). */
export async function updateAccessKeyStatus(
  tx: Tx,
  accessKeyId: string,
  status: AccessKeyRow['status'],
  userName?: string,
): Promise<AccessKeyRow | undefined> {
  const [row] = await tx
    .update(accessKeys)
    .set({ status, updatedAt: sql`now()` })
    .where(
      and(
        eq(accessKeys.accessKeyId, accessKeyId),
        userName === undefined ? undefined : eq(accessKeys.name, userName),
      ),
    )
    .returning();
  return row;
}

export async function updateAccessKeyPolicy(
  tx: Tx,
  accessKeyId: string,
  policy: Pick<AccessKeyRow, 'policy' | 'policyName'>,
): Promise<AccessKeyRow | undefined> {
  const [row] = await tx
    .update(accessKeys)
    .set({ ...policy, updatedAt: sql`now()` })
    .where(eq(accessKeys.accessKeyId, accessKeyId))
    .returning();
  return row;
}

export async function deleteAccessKey(
  tx: Tx,
  accessKeyId: string,
  userName?: string,
): Promise<AccessKeyRow | undefined> {
  const [row] = await tx
    .delete(accessKeys)
    .where(
      and(
        eq(accessKeys.accessKeyId, accessKeyId),
        userName === undefined ? undefined : eq(accessKeys.name, userName),
      ),
    )
    .returning();
  return row;
}

/** The newest ACTIVE key of a user, if any. */
export async function newestActiveKey(tx: Tx, name: string): Promise<AccessKeyRow | undefined> {
  const [row] = await tx
    .select()
    .from(accessKeys)
    .where(and(eq(accessKeys.name, name), eq(accessKeys.status, 'ACTIVE')))
    .orderBy(desc(accessKeys.createdAt))
    .limit(1);
  return row;
}
