import { and, asc, eq, gt, isNull, or, sql } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.ts';
import { joinTokens } from '../db/schema/index.ts';

export type JoinTokenRow = typeof joinTokens.$inferSelect;

/** Stores a new join token of the cluster by its hash (the token itself is never stored). */
export async function insertJoinToken(
  tx: Tx | Db,
  token: {
    clusterId: string;
    tokenHash: string;
    expiresAt: Date;
    maxUses: number;
    maxCpu?: number | undefined;
    maxMemory?: number | undefined;
    requireApproval?: boolean | undefined;
  },
): Promise<JoinTokenRow> {
  const [row] = await tx
    .insert(joinTokens)
    .values({ ...token, usesRemaining: token.maxUses })
    .returning();
  if (!row) throw new Error('insert returned no row');
  return row;
}

/**
 * Takes one use of a live token (not revoked, not expired at `now`, a use left), atomically: two
 * hosts racing for the last use both reach this UPDATE, the second waits on the row lock and then
 * finds no use left, so exactly one registers. Undefined when the token cannot be used.
 */
export async function consumeJoinToken(
  tx: Tx,
  tokenHash: string,
  now: Date,
): Promise<JoinTokenRow | undefined> {
  const [row] = await tx
    .update(joinTokens)
    .set({ usesRemaining: sql`${joinTokens.usesRemaining} - 1`, lastUsedAt: now })
    .where(
      and(
        eq(joinTokens.tokenHash, tokenHash),
        isNull(joinTokens.revokedAt),
        gt(joinTokens.expiresAt, now),
        gt(joinTokens.usesRemaining, 0),
      ),
    )
    .returning();
  return row;
}

export async function findJoinTokenByHash(tx: Tx | Db, tokenHash: string): Promise<JoinTokenRow | undefined> {
  const [row] = await tx.select().from(joinTokens).where(eq(joinTokens.tokenHash, tokenHash));
  return row;
}

/** A page of a cluster's tokens, oldest first, after the (createdAt, id) cursor. */
export async function listJoinTokens(
  db: Db,
  clusterId: string,
  opts: { after?: { createdAt: Date; id: string }; limit: number },
): Promise<JoinTokenRow[]> {
  const after = opts.after;
  return db
    .select()
    .from(joinTokens)
    .where(
      and(
        eq(joinTokens.clusterId, clusterId),
        after
          ? or(
              gt(joinTokens.createdAt, after.createdAt),
              and(eq(joinTokens.createdAt, after.createdAt), gt(joinTokens.id, after.id)),
            )
          : undefined,
      ),
    )
    .orderBy(asc(joinTokens.createdAt), asc(joinTokens.id))
    .limit(opts.limit);
}

/** Revokes the token (once: a second revoke keeps the first time); undefined when the cluster has no such token. */
export async function revokeJoinToken(
  db: Db,
  clusterId: string,
  id: string,
  now: Date,
): Promise<JoinTokenRow | undefined> {
  const [row] = await db
    .update(joinTokens)
    .set({ revokedAt: sql`coalesce(${joinTokens.revokedAt}, ${now.toISOString()}::timestamptz)` })
    .where(and(eq(joinTokens.clusterId, clusterId), eq(joinTokens.id, id)))
    .returning();
  return row;
}
