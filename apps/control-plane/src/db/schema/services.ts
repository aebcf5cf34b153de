import type {
  DeploymentConfiguration,
  DeploymentStatus,
  ServiceStatus,
  StoredPlacementConstraint,
  StoredPlacementStrategy,
} from '@bosun/model';
import type { LaunchRecord, RolloutState, SchedulingStrategy } from '@bosun/scheduler';
import { sql } from 'drizzle-orm';
import {
  bigserial,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { clusters } from './clusters.ts';
import { taskDefinitions } from './task-definitions.ts';

const ts = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });

/**
 * ECS services. The ARN is `service/<cluster name>/<name>`, built from the cluster row. A name is
 * unique among the cluster's services that are not INACTIVE; an INACTIVE one stays readable
 * (DescribeServices) and its name may be used again.
 *
 * `taskDefinition` is the PRIMARY deployment's revision; runningCount / pendingCount are what the
 * last evaluation counted (DescribeServices shows them as ECS does, a snapshot of the scheduler's).
 */
export const services = pgTable(
  'services',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    clusterId: uuid('cluster_id')
      .notNull()
      .references(() => clusters.id),
    name: text('name').notNull(),
    status: text('status').$type<ServiceStatus>().notNull(),
    family: text('family').notNull(),
    revision: integer('revision').notNull(),
    /** REPLICA: the user's; DAEMON: what the last evaluation computed (eligible instances). */
    desiredCount: integer('desired_count').notNull().default(0),
    runningCount: integer('running_count').notNull().default(0),
    pendingCount: integer('pending_count').notNull().default(0),
    launchType: text('launch_type').$type<'EC2'>().notNull().default('EC2'),
    schedulingStrategy: text('scheduling_strategy').$type<SchedulingStrategy>().notNull().default('REPLICA'),
    deploymentConfiguration: jsonb('deployment_configuration')
      .$type<DeploymentConfiguration>()
      .notNull()
      .default({}),
    placementConstraints: jsonb('placement_constraints')
      .$type<StoredPlacementConstraint[]>()
      .notNull()
      .default([]),
    placementStrategy: jsonb('placement_strategy').$type<StoredPlacementStrategy[]>().notNull().default([]),
    healthCheckGracePeriodSeconds: integer('health_check_grace_period_seconds'),
    /** CreateService's clientToken: a retry with the same token answers with this service. */
    clientToken: text('client_token'),
    createdAt: ts('created_at').notNull().defaultNow(),
    /** The access key that created the service (ECS shows the IAM principal). */
    createdBy: text('created_by'),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('services_cluster_status').on(t.clusterId, t.status),
    uniqueIndex('services_cluster_name_live').on(t.clusterId, t.name).where(sql`status <> 'INACTIVE'`),
    foreignKey({
      columns: [t.family, t.revision],
      foreignColumns: [taskDefinitions.family, taskDefinitions.revision],
      name: 'services_task_definition_fk',
    }),
  ],
);

/**
 * One row per deployment of a service (ECS `deployments[]`): PRIMARY (newest), ACTIVE (older, still
 * has tasks). Rows whose tasks have all stopped are deleted by the worker, as ECS drops them from
 * the list. `launch` is the scheduler's memory of the deployment's failures (circuit breaker,
 * crash-loop throttle), written back as the decision returns it.
 */
export const deployments = pgTable(
  'deployments',
  {
    /** `ecs-svc/<19 digits>`; also the startedBy of its tasks. */
    id: text('id').primaryKey(),
    serviceId: uuid('service_id')
      .notNull()
      .references(() => services.id),
    status: text('status').$type<DeploymentStatus>().notNull(),
    family: text('family').notNull(),
    revision: integer('revision').notNull(),
    desiredCount: integer('desired_count').notNull(),
    pendingCount: integer('pending_count').notNull().default(0),
    runningCount: integer('running_count').notNull().default(0),
    failedTasks: integer('failed_tasks').notNull().default(0),
    rolloutState: text('rollout_state').$type<RolloutState>().notNull(),
    rolloutStateReason: text('rollout_state_reason').notNull(),
    launch: jsonb('launch').$type<LaunchRecord>().notNull(),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
  },
  (t) => [
    index('deployments_service').on(t.serviceId),
    foreignKey({
      columns: [t.family, t.revision],
      foreignColumns: [taskDefinitions.family, taskDefinitions.revision],
      name: 'deployments_task_definition_fk',
    }),
  ],
);

/**
 * Service events (ECS `events[]`), newest first by (createdAt, seq); the worker keeps the last 100
 * per service. `seq` orders events written in the same instant.
 */
export const serviceEvents = pgTable(
  'service_events',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    seq: bigserial('seq', { mode: 'number' }).notNull(),
    serviceId: uuid('service_id')
      .notNull()
      .references(() => services.id),
    createdAt: ts('created_at').notNull(),
    message: text('message').notNull(),
  },
  (t) => [
    index('service_events_service_created').on(t.serviceId, t.createdAt, t.seq),
    // Housekeeping deletes events by age, oldest first (workers/housekeeping.ts).
    index('service_events_created').on(t.createdAt),
  ],
);
