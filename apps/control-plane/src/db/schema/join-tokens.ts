import { sql } from 'drizzle-orm';
import { pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { clusters } from './clusters.ts';

/**
 * A join token lets its holder register new container instances in one cluster, nothing more.
 * Stored as a sha256 hash: the token is random, so a slow hash would add nothing.
 */
export const joinTokens = pgTable('join_tokens', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  clusterId: uuid('cluster_id')
    .notNull()
    .references(() => clusters.id),
  tokenHash: text('token_hash').notNull().unique(),
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  expiresAt: timestamp('expires_at', { withTimezone: true, precision: 3 }),
  revokedAt: timestamp('revoked_at', { withTimezone: true, precision: 3 }),
});
