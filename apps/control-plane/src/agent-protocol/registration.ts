import { AuthenticationError, ClusterNotFoundError, type RegisterInstanceRequest } from '@bosun/model';
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { clusters, containerInstances, joinTokens } from '../db/schema/index.ts';
import { hashSecret } from '../ecs/container-instances.ts';

/**
 * A host joins: its join token (by hash, not revoked, not expired) names the cluster, which must be
 * ACTIVE; the instance is stored ACTIVE with the credential's hash.
 */
export async function registerInstance(
  db: Db,
  input: RegisterInstanceRequest,
  credentialHash: string,
  now: Date,
) {
  return db.transaction(async (tx) => {
    const [token] = await tx
      .select({ clusterId: joinTokens.clusterId, expiresAt: joinTokens.expiresAt })
      .from(joinTokens)
      .where(and(eq(joinTokens.tokenHash, hashSecret(input.joinToken)), isNull(joinTokens.revokedAt)));
    if (!token || (token.expiresAt && token.expiresAt < now)) {
      throw new AuthenticationError(
        'UnrecognizedClientException',
        'The join token is not valid or has expired.',
      );
    }
    const [cluster] = await tx.select().from(clusters).where(eq(clusters.id, token.clusterId)).for('share');
    if (cluster?.status !== 'ACTIVE') throw new ClusterNotFoundError();
    const [row] = await tx
      .insert(containerInstances)
      .values({
        clusterId: cluster.id,
        status: 'ACTIVE',
        hostname: input.hostname,
        registeredCpu: input.cpu,
        registeredMemory: input.memory,
        reservedPorts: [...new Set(input.reservedPorts)],
        attributes: input.attributes,
        versionInfo: input.versionInfo,
        credentialHash: '',
        // Postgres' clock, which liveness compares against (db/now.ts).
        lastHeartbeatAt: sql`now()`,
        registeredAt: now,
      })
      .returning();
    if (!row) throw new Error('insert returned no row');
    await tx
      .update(containerInstances)
      .set({ credentialHash: credentialHash })
      .where(eq(containerInstances.id, row.id));
    return { row, clusterName: cluster.name };
  });
}
