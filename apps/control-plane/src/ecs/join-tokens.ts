import { arns, InvalidParameterError } from '@bosun/model';
import { z } from 'zod';
import { newJoinToken } from '../auth/join-token.ts';
import { requireActiveCluster } from '../repositories/clusters.ts';
import {
  insertJoinToken,
  type JoinTokenRow,
  listJoinTokens,
  revokeJoinToken,
} from '../repositories/join-tokens.ts';
import { type ActionContext, defineAction } from './action.ts';
import { UUID_RE } from './container-instances.ts';
import { decodeToken, maxResults, nextToken, page } from './pagination.ts';
import { clusterRef, epochSeconds } from './shapes.ts';

/**
 * bosun's own actions for join tokens (BosunV1.*): a token lets new Docker hosts join one cluster —
 * once by default (`uses`), for an hour by default (`expiresInSeconds`), and with at most the capacity
 * it allows (`maxCpu`, `maxMemory`). The token is shown once, at creation; afterwards it is known by
 * its id, which ListJoinTokens shows and RevokeJoinToken takes.
 */

export const DEFAULT_JOIN_TOKEN_TTL_SECONDS = 3600;

/** A token as the list shows it: never the secret, which is not stored. */
function describeJoinToken(ctx: ActionContext, clusterName: string, row: JoinTokenRow) {
  const status = row.revokedAt
    ? 'REVOKED'
    : row.expiresAt <= ctx.now
      ? 'EXPIRED'
      : row.usesRemaining === 0
        ? 'USED'
        : 'ACTIVE';
  return {
    joinTokenId: row.id,
    clusterArn: arns.cluster(ctx.scope, clusterName),
    status,
    createdAt: epochSeconds(row.createdAt),
    expiresAt: epochSeconds(row.expiresAt),
    maxUses: row.maxUses,
    usesRemaining: row.usesRemaining,
    revoked: row.revokedAt !== null,
    ...(row.revokedAt ? { revokedAt: epochSeconds(row.revokedAt) } : {}),
    ...(row.lastUsedAt ? { lastUsedAt: epochSeconds(row.lastUsedAt) } : {}),
    ...(row.maxCpu !== null ? { maxCpu: row.maxCpu } : {}),
    ...(row.maxMemory !== null ? { maxMemory: row.maxMemory } : {}),
    requireApproval: row.requireApproval,
  };
}

export const CreateJoinToken = defineAction(
  'Creates a token with which agents register new container instances in the cluster: single use and valid for an hour unless asked otherwise.',
  z.object({
    cluster: clusterRef.optional(),
    expiresInSeconds: z
      .number()
      .int()
      .min(60)
      .max(365 * 24 * 3600)
      .optional(),
    /** How many hosts may join with it. */
    uses: z.number().int().min(1).max(10_000).optional(),
    /** CPU units (cores × 1024) a host joining with it is registered with at most. */
    maxCpu: z.number().int().min(1).optional(),
    /** MiB a host joining with it is registered with at most. */
    maxMemory: z.number().int().min(1).optional(),
    /** Hosts joining with it stay REGISTERING until approved with UpdateContainerInstancesState ACTIVE. */
    requireApproval: z.boolean().optional(),
  }),
  async (ctx, input) => {
    const cluster = await requireActiveCluster(ctx.db, ctx.scope, input.cluster);
    const { token, secretHash } = newJoinToken(ctx.caFingerprint);
    const expiresAt = new Date(
      ctx.now.getTime() + (input.expiresInSeconds ?? DEFAULT_JOIN_TOKEN_TTL_SECONDS) * 1000,
    );
    const row = await insertJoinToken(ctx.db, {
      clusterId: cluster.id,
      tokenHash: secretHash,
      expiresAt,
      maxUses: input.uses ?? 1,
      maxCpu: input.maxCpu,
      maxMemory: input.maxMemory,
      requireApproval: input.requireApproval,
    });
    ctx.log.info({ joinTokenId: row.id, cluster: cluster.name, uses: row.maxUses }, 'join token created');
    return { joinToken: token, ...describeJoinToken(ctx, cluster.name, row) };
  },
);

export const ListJoinTokens = defineAction(
  "Lists a cluster's join tokens, oldest first: id, state, expiry and uses left; never the secret.",
  z.object({ cluster: clusterRef.optional(), maxResults, nextToken }),
  async (ctx, input) => {
    const cluster = await requireActiveCluster(ctx.db, ctx.scope, input.cluster);
    const limit = input.maxResults ?? 100;
    const after = decodeToken(input.nextToken, ['number', 'string']);
    if (after && !UUID_RE.test(String(after[1]))) {
      throw new InvalidParameterError(
        'Invalid nextToken: pass the nextToken value from the previous response as is.',
      );
    }
    const rows = await listJoinTokens(ctx.db, cluster.id, {
      ...(after ? { after: { createdAt: new Date(Number(after[0])), id: String(after[1]) } } : {}),
      limit: limit + 1,
    });
    const { items, nextToken: next } = page(rows, limit, (r) => [r.createdAt.getTime(), r.id]);
    return {
      joinTokens: items.map((r) => describeJoinToken(ctx, cluster.name, r)),
      ...(next ? { nextToken: next } : {}),
    };
  },
);

export const RevokeJoinToken = defineAction(
  'Revokes a join token: no host joins with it any more (hosts that joined with it stay).',
  z.object({ cluster: clusterRef.optional(), joinTokenId: z.string().min(1).max(64) }),
  async (ctx, input) => {
    const cluster = await requireActiveCluster(ctx.db, ctx.scope, input.cluster);
    const missing = () =>
      new InvalidParameterError(
        `The join token ${input.joinTokenId} was not found in cluster ${cluster.name}.`,
      );
    if (!UUID_RE.test(input.joinTokenId)) throw missing();
    const row = await revokeJoinToken(ctx.db, cluster.id, input.joinTokenId, ctx.now);
    if (!row) throw missing();
    ctx.log.info({ joinTokenId: row.id, cluster: cluster.name }, 'join token revoked');
    return { joinToken: describeJoinToken(ctx, cluster.name, row) };
  },
);
