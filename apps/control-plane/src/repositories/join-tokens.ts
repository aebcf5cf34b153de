import type { Tx } from '../db/client.ts';
import { joinTokens } from '../db/schema/index.ts';

/** Stores a new join token of the cluster by its hash (the token itself is never stored). */
export async function insertJoinToken(
  tx: Tx,
  token: { clusterId: string; tokenHash: string; expiresAt: Date | null },
): Promise<void> {
  await tx.insert(joinTokens).values(token);
}
