import type { TaskDefinitionSpec, TaskDefinitionStatus } from '@bosun/model';
import { index, integer, jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import { taskDefinitionFamilies } from './task-definition-families.ts';

export const taskDefinitions = pgTable(
  'task_definitions',
  {
    family: text('family')
      .notNull()
      .references(() => taskDefinitionFamilies.family),
    revision: integer('revision').notNull(),
    status: text('status').$type<TaskDefinitionStatus>().notNull(),
    /** The normalized registration, immutable once written. */
    spec: jsonb('spec').$type<TaskDefinitionSpec>().notNull(),
    registeredBy: text('registered_by'),
    registeredAt: timestamp('registered_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    deregisteredAt: timestamp('deregistered_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    primaryKey({ columns: [t.family, t.revision] }),
    index('task_definitions_status_family_revision').on(t.status, t.family, t.revision),
  ],
);
