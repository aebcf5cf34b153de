import type { ContainerOverride, StoredPlacementConstraint, StoredPlacementStrategy } from '@bosun/model';
import type { PlacementFailureReason } from '@bosun/scheduler';
import { sql } from 'drizzle-orm';
import { index, integer, jsonb, pgTable, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';
import { clusters } from './clusters.ts';

export type PlacementRequestStatus = 'PENDING' | 'DONE' | 'CANCELLED';

/** Everything the worker needs to place the tasks of one RunTask/StartTask call. */
export interface PlacementSpec {
  family: string;
  revision: number;
  count: number;
  group: string;
  startedBy?: string;
  containerOverrides: ContainerOverride[];
  /** memberOf expressions as written (RunTask's and the task definition's); re-parsed by the worker. */
  constraints: StoredPlacementConstraint[];
  strategy: StoredPlacementStrategy[];
  tags: { key: string; value: string }[];
  /** StartTask: one task on each of these instances (ids), no strategy. */
  containerInstanceIds?: string[];
}

export interface PlacementOutcome {
  taskIds: string[];
  failures: { arn: string; reason: PlacementFailureReason | 'MISSING'; detail?: string }[];
}

/**
 * One RunTask or StartTask call: written before the job is queued, so Postgres holds the truth and the
 * job carries only this row's id. The worker turns a PENDING request into tasks and an outcome in the
 * same transaction (DONE), which makes a second run of the job a no-op. A caller that gives up waiting
 * marks it CANCELLED under the same row lock, so a late worker does nothing and no task appears after
 * RunTask has answered with an error.
 *
 * `clientToken` is unique per cluster: a retried RunTask finds its request and answers from its outcome.
 */
export const placementRequests = pgTable(
  'placement_requests',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    clusterId: uuid('cluster_id')
      .notNull()
      .references(() => clusters.id),
    clientToken: text('client_token'),
    status: text('status').$type<PlacementRequestStatus>().notNull(),
    spec: jsonb('spec').$type<PlacementSpec>().notNull(),
    outcome: jsonb('outcome').$type<PlacementOutcome>(),
    /** How many times the worker re-planned after a capacity conflict under lock (diagnostics). */
    conflicts: integer('conflicts').notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    completedAt: timestamp('completed_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    // NULLs are distinct in Postgres: calls without a token never collide.
    unique('placement_requests_cluster_client_token').on(t.clusterId, t.clientToken),
    index('placement_requests_status_created').on(t.status, t.createdAt),
    // Housekeeping walks old requests oldest first, in (created_at, id) order (workers/housekeeping.ts).
    index('placement_requests_created').on(t.createdAt, t.id),
  ],
);
