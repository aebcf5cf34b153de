import { integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * One row per family, holding the last revision handed out. Bumping it with an upsert in the same
 * transaction as the insert gives concurrent registrations distinct, gap-free revisions.
 */
export const taskDefinitionFamilies = pgTable('task_definition_families', {
  family: text('family').primaryKey(),
  latestRevision: integer('latest_revision').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
});
