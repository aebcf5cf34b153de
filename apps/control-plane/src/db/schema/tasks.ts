import type { TaskDesiredStatus, TaskLastStatus } from '@bosun/model';
import { index, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { clusters } from './clusters.ts';
import { containerInstances } from './container-instances.ts';

export const tasks = pgTable(
  'tasks',
  {
    /** 32 lowercase hex characters, as in ECS task ARNs. */
    id: text('id').primaryKey(),
    clusterId: uuid('cluster_id')
      .notNull()
      .references(() => clusters.id),
    containerInstanceId: uuid('container_instance_id').references(() => containerInstances.id),
    lastStatus: text('last_status').$type<TaskLastStatus>().notNull(),
    desiredStatus: text('desired_status').$type<TaskDesiredStatus>().notNull(),
    /** What the task holds on its instance until it is STOPPED: the basis of remaining resources. */
    reservedCpu: integer('reserved_cpu').notNull().default(0),
    reservedMemory: integer('reserved_memory').notNull().default(0),
    reservedPorts: text('reserved_ports').array().notNull().default([]),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    index('tasks_cluster_desired').on(t.clusterId, t.desiredStatus),
    index('tasks_instance_last').on(t.containerInstanceId, t.lastStatus),
  ],
);
