import { sql } from 'drizzle-orm';
import { index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { clusters } from './clusters.ts';

/** Docker hosts registered by their agents. The agent fills in the rest of the columns. */
export const containerInstances = pgTable(
  'container_instances',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    clusterId: uuid('cluster_id')
      .notNull()
      .references(() => clusters.id),
    status: text('status').notNull(),
    registeredAt: timestamp('registered_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [index('container_instances_cluster_status').on(t.clusterId, t.status)],
);
