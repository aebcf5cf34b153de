import { index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import type { TaskDesiredStatus, TaskLastStatus } from '@bosun/model';
import { clusters } from './clusters.ts';

export const tasks = pgTable(
  'tasks',
  {
    /** 32 lowercase hex characters, as in ECS task ARNs. */
    id: text('id').primaryKey(),
    clusterId: uuid('cluster_id')
      .notNull()
      .references(() => clusters.id),
    lastStatus: text('last_status').$type<TaskLastStatus>().notNull(),
    desiredStatus: text('desired_status').$type<TaskDesiredStatus>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [index('tasks_cluster_desired').on(t.clusterId, t.desiredStatus)],
);
