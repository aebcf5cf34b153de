import { sql } from 'drizzle-orm';
import { boolean, check, index, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { clusters } from './clusters.ts';

/**
 * A join token lets its holder register new container instances in one cluster, nothing more: at
 * most `maxUses` of them (1 by default), before `expiresAt`, unless revoked. Stored as a sha256 hash
 * of its secret: the secret is random, so a slow hash would add nothing. `maxCpu`/`maxMemory` cap
 * what a host joining with it may declare (registration clamps to them).
 */
export const joinTokens = pgTable(
  'join_tokens',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    clusterId: uuid('cluster_id')
      .notNull()
      .references(() => clusters.id),
    tokenHash: text('token_hash').notNull().unique(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true, precision: 3 }),
    maxUses: integer('max_uses').notNull().default(1),
    usesRemaining: integer('uses_remaining').notNull().default(1),
    maxCpu: integer('max_cpu'),
    maxMemory: integer('max_memory'),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true, precision: 3 }),
    /** Hosts joining with it are held REGISTERING (no task is placed there) until an admin sets them ACTIVE. */
    requireApproval: boolean('require_approval').notNull().default(false),
  },
  (t) => [
    index('join_tokens_cluster_created').on(t.clusterId, t.createdAt, t.id),
    check('join_tokens_uses', sql`${t.usesRemaining} >= 0 AND ${t.usesRemaining} <= ${t.maxUses}`),
  ],
);
