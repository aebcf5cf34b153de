import type { ClusterStatus } from '@bosun/model';
import { sql } from 'drizzle-orm';
import { jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

export interface ClusterSetting {
  name: string;
  value: string;
}

export const clusters = pgTable('clusters', {
  id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
  name: text('name').notNull().unique(),
  status: text('status').$type<ClusterStatus>().notNull(),
  settings: jsonb('settings').$type<ClusterSetting[]>().notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
});
