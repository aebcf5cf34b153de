import type {
  ContainerOverride,
  ContainerStatus,
  HealthStatus,
  NetworkBinding,
  StopCode,
  TaskDesiredStatus,
  TaskLastStatus,
} from '@bosun/model';
import { sql } from 'drizzle-orm';
import { foreignKey, index, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { clusters } from './clusters.ts';
import { containerInstances } from './container-instances.ts';
import { placementRequests } from './placement-requests.ts';
import { services } from './services.ts';
import { taskDefinitions } from './task-definitions.ts';

/** RunTask's `overrides`, as stored and returned by DescribeTasks. */
export interface TaskOverrides {
  containerOverrides: ContainerOverride[];
}

// Declared in @bosun/model with the zod shape RunTask validates it with; re-exported for the readers of rows.
export type { ContainerOverride };

/**
 * One container of a task: what was asked for (name, image, sizes, after overrides) and what the
 * agent last reported. `id` is the UUID in the container ARN.
 */
export interface TaskContainer {
  id: string;
  name: string;
  image: string;
  cpu: number;
  memory?: number;
  memoryReservation?: number;
  lastStatus: ContainerStatus;
  runtimeId?: string;
  exitCode?: number;
  reason?: string;
  healthStatus?: HealthStatus;
  networkBindings: NetworkBinding[];
  imageDigest?: string;
}

const ts = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });

/**
 * Tasks. Created by the placement worker only once an instance has been chosen, so a task that could
 * not be placed never exists (RunTask reports it in failures[], as ECS does).
 *
 * Containers live in a jsonb column rather than a table of their own: a task has at most ten, they are
 * always read and written together with their task (DescribeTasks, the agent's desired state, a report
 * that replaces the task's whole view), and nothing queries them on their own. One row per task keeps a
 * report one `update` and the task's `version` bump atomic with it.
 */
export const tasks = pgTable(
  'tasks',
  {
    /** 32 lowercase hex characters, as in ECS task ARNs. */
    id: text('id').primaryKey(),
    clusterId: uuid('cluster_id')
      .notNull()
      .references(() => clusters.id),
    containerInstanceId: uuid('container_instance_id').references(() => containerInstances.id),
    /** The RunTask/StartTask call that created the task; its clientToken makes retries idempotent. */
    placementRequestId: uuid('placement_request_id').references(() => placementRequests.id),
    family: text('family').notNull(),
    revision: integer('revision').notNull(),
    overrides: jsonb('overrides').$type<TaskOverrides>().notNull().default({ containerOverrides: [] }),
    group: text('group').notNull(),
    startedBy: text('started_by'),
    /** Service tasks: their service and deployment (also in group `service:<name>` and startedBy). */
    serviceId: uuid('service_id').references(() => services.id),
    /** Not a foreign key: a drained deployment's row is deleted while its STOPPED tasks remain visible. */
    deploymentId: text('deployment_id'),
    launchType: text('launch_type').$type<'EC2'>().notNull().default('EC2'),
    /** Written by the agent's reports, only ever forward (taskStatusRank). */
    lastStatus: text('last_status').$type<TaskLastStatus>().notNull(),
    /** Written by the control plane: RUNNING, then STOPPED when asked to stop or once stopped. */
    desiredStatus: text('desired_status').$type<TaskDesiredStatus>().notNull(),
    healthStatus: text('health_status').$type<HealthStatus>().notNull().default('UNKNOWN'),
    stopCode: text('stop_code').$type<StopCode>(),
    stoppedReason: text('stopped_reason'),
    containers: jsonb('containers').$type<TaskContainer[]>().notNull().default(sql`'[]'::jsonb`),
    /** Bumped on every change of the task, as ECS's `version`. */
    version: integer('version').notNull().default(1),
    /** What the task holds on its instance until it is STOPPED: the basis of remaining resources. */
    reservedCpu: integer('reserved_cpu').notNull().default(0),
    reservedMemory: integer('reserved_memory').notNull().default(0),
    reservedPorts: text('reserved_ports').array().notNull().default([]),
    createdAt: ts('created_at').notNull().defaultNow(),
    pullStartedAt: ts('pull_started_at'),
    pullStoppedAt: ts('pull_stopped_at'),
    startedAt: ts('started_at'),
    stoppingAt: ts('stopping_at'),
    executionStoppedAt: ts('execution_stopped_at'),
    stoppedAt: ts('stopped_at'),
    /** When the agent first reported the task: it has been seen on its host. */
    connectivityAt: ts('connectivity_at'),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('tasks_cluster_desired').on(t.clusterId, t.desiredStatus),
    index('tasks_instance_last').on(t.containerInstanceId, t.lastStatus),
    index('tasks_placement_request').on(t.placementRequestId),
    index('tasks_service').on(t.serviceId),
    // The stopped-task cleanup scans by stop time.
    index('tasks_stopped_at').on(t.stoppedAt),
    foreignKey({
      columns: [t.family, t.revision],
      foreignColumns: [taskDefinitions.family, taskDefinitions.revision],
      name: 'tasks_task_definition_fk',
    }),
  ],
);
