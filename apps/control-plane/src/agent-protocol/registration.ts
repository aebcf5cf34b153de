import {
  AuthenticationError,
  ClientError,
  ClusterNotFoundError,
  type RegisterInstanceRequest,
  type StoredPlacementConstraint,
} from '@bosun/model';
import { parseClusterQuery } from '@bosun/scheduler';
import { and, eq, ne, sql } from 'drizzle-orm';
import { joinTokenHash } from '../auth/join-token.ts';
import type { Db, Tx } from '../db/client.ts';
import { clusters, containerInstances, services, taskDefinitions } from '../db/schema/index.ts';
import { consumeJoinToken, findJoinTokenByHash } from '../repositories/join-tokens.ts';
import { attributeNamesOf, clampCapacity, refusedAttributes } from './host-admission.ts';

const refused = (message: string) => new AuthenticationError('UnrecognizedClientException', message);

/** Why a token that could not be used was refused, told only to a caller who holds the token. */
async function whyRefused(tx: Tx, tokenHash: string, now: Date): Promise<AuthenticationError> {
  const row = await findJoinTokenByHash(tx, tokenHash);
  if (!row) return refused('The join token is not valid.');
  if (row.revokedAt) return refused('The join token was revoked.');
  if (row.expiresAt <= now) return refused(`The join token expired at ${row.expiresAt.toISOString()}.`);
  return refused(
    `The join token has been used up (${row.maxUses} ${row.maxUses === 1 ? 'use' : 'uses'}); create a new one.`,
  );
}

/** Attribute names the memberOf constraints of the cluster's live services read (their own and their task definition's). */
async function namesUsedByConstraints(tx: Tx, clusterId: string): Promise<string[]> {
  const rows = await tx
    .select({
      own: services.placementConstraints,
      definition: sql<StoredPlacementConstraint[] | null>`${taskDefinitions.spec}->'placementConstraints'`,
    })
    .from(services)
    .innerJoin(
      taskDefinitions,
      and(eq(taskDefinitions.family, services.family), eq(taskDefinitions.revision, services.revision)),
    )
    .where(and(eq(services.clusterId, clusterId), ne(services.status, 'INACTIVE')));
  const names = new Set<string>();
  for (const row of rows) {
    for (const c of [...row.own, ...(row.definition ?? [])]) {
      if (c.type !== 'memberOf') continue;
      const parsed = parseClusterQuery(c.expression);
      if (parsed.ok) for (const name of attributeNamesOf(parsed.value)) names.add(name);
    }
  }
  return [...names];
}

/**
 * A host joins: one use of its join token is taken (atomically, see consumeJoinToken), the token's
 * cluster must be ACTIVE, the declared attributes may not claim names reserved to admins, and the
 * declared capacity is clamped to the token's caps. One transaction: a refused registration leaves
 * the token's uses and everything else as they were.
 */
export async function registerInstance(
  db: Db,
  input: RegisterInstanceRequest,
  credentialHash: string,
  now: Date,
  rules: { reservedAttributes: readonly string[] },
) {
  const tokenHash = joinTokenHash(input.joinToken);
  if (tokenHash === undefined) throw refused('The join token is not valid.');
  return db.transaction(async (tx) => {
    const token = await consumeJoinToken(tx, tokenHash, now);
    if (!token) throw await whyRefused(tx, tokenHash, now);
    const [cluster] = await tx.select().from(clusters).where(eq(clusters.id, token.clusterId)).for('share');
    if (cluster?.status !== 'ACTIVE') throw new ClusterNotFoundError();
    const bad = refusedAttributes(input.attributes, {
      reserved: rules.reservedAttributes,
      usedByConstraints: await namesUsedByConstraints(tx, cluster.id),
    });
    if (bad.length > 0) {
      throw new ClientError(
        `A joining host may not set these attributes; set them with PutAttributes: ${bad.map((b) => `${b.name} (${b.why})`).join('; ')}.`,
      );
    }
    const capacity = clampCapacity({ cpu: input.cpu, memory: input.memory }, token);
    const [row] = await tx
      .insert(containerInstances)
      .values({
        clusterId: cluster.id,
        // Held until an admin approves it (UpdateContainerInstancesState ACTIVE): placement uses ACTIVE hosts only.
        status: token.requireApproval ? 'REGISTERING' : 'ACTIVE',
        hostname: input.hostname,
        registeredCpu: capacity.cpu,
        registeredMemory: capacity.memory,
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
    return { row, clusterName: cluster.name, joinTokenId: token.id };
  });
}
