import { randomBytes, randomUUID } from 'node:crypto';
import {
  type ArnScope,
  arns,
  parseArn,
  type StopCode,
  type TagPair,
  type TaskDefinitionSpec,
} from '@bosun/model';
import type { TaskRequirements } from '@bosun/scheduler';
import { and, asc, eq, gt, inArray, type Placeholder, type SQL, sql } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.ts';
import { groupedLookup } from '../db/group-statement.ts';
import { insertRowsAsJson } from '../db/insert-json.ts';
import { preparedPer } from '../db/prepared.ts';
import {
  type ContainerOverride,
  clusters,
  containerInstances,
  type TaskContainer,
  tasks,
} from '../db/schema/index.ts';
import { epochSeconds } from '../ecs/shapes.ts';
import { olderThan, untagGone } from './batches.ts';
import { type ClusterRef, clusterRefColumns } from './clusters.ts';
import { putTagsOfMany } from './tags.ts';

export type TaskRow = typeof tasks.$inferSelect;

const TASK_ID_RE = /^[0-9a-f]{32}$/;

/**
 * A task id, or a task ARN of this cluster (`task/CLUSTER/ID`, or the old `task/ID` form) → the id.
 * Anything else names no task here.
 */
export function taskIdFromRef(scope: ArnScope, clusterName: string, ref: string): string | undefined {
  if (!ref.startsWith('arn:')) return TASK_ID_RE.test(ref) ? ref : undefined;
  const arn = parseArn(ref);
  if (arn?.kind !== 'task' || arn.region !== scope.region || arn.accountId !== scope.accountId)
    return undefined;
  const id =
    arn.parts.length === 2 && arn.parts[0] === clusterName
      ? arn.parts[1]
      : arn.parts.length === 1
        ? arn.parts[0]
        : undefined;
  return id !== undefined && TASK_ID_RE.test(id) ? id : undefined;
}

/**
 * By primary key only, the cluster checked on the rows, and not prepared. With `cluster_id = $1` in
 * the statement, a generic plan scanned the cluster's every task through tasks_cluster_desired — 2.9
 * ms for each RunTask answer at 10,000 tasks. And a named statement's generic plan, which Postgres
 * makes at the fifth run and keeps until the next ANALYZE, is made while a young cluster's table is
 * small: it scans the whole table then, and still does once there are 10,000 tasks (3.9 ms against
 * 0.1 ms in bench/control-plane.ts, before autovacuum's first ANALYZE a minute later). Unprepared,
 * every run is planned for the table as it is; one round trip more.
 */
const tasksByIdQuery = (tx: Tx, ids: string[]) => tx.select().from(tasks).where(inArray(tasks.id, ids));

export async function findTasks(db: Db, clusterId: string, ids: readonly string[]): Promise<TaskRow[]> {
  const rows = await readTasksById(db, ids);
  return rows.filter((row) => row.clusterId === clusterId);
}

/**
 * Tasks by id, of any cluster: the caller checks whose they are. Grouped with the other callers'
 * (db/group-statement.ts): RunTask callers woken by one placement batch, and agents reporting the
 * tasks it placed, arrive together. On the database itself, never in a transaction.
 */
export const readTasksById: (db: Db, ids: readonly string[]) => Promise<TaskRow[]> = groupedLookup(
  tasksByIdQuery,
  (row) => row.id,
);

/** The columns describeTask shows: fewer to send, parse and map than the whole row. */
const taskViewColumns = {
  id: tasks.id,
  containerInstanceId: tasks.containerInstanceId,
  family: tasks.family,
  revision: tasks.revision,
  overrides: tasks.overrides,
  group: tasks.group,
  startedBy: tasks.startedBy,
  launchType: tasks.launchType,
  lastStatus: tasks.lastStatus,
  desiredStatus: tasks.desiredStatus,
  healthStatus: tasks.healthStatus,
  stopCode: tasks.stopCode,
  stoppedReason: tasks.stoppedReason,
  containers: tasks.containers,
  version: tasks.version,
  reservedCpu: tasks.reservedCpu,
  reservedMemory: tasks.reservedMemory,
  createdAt: tasks.createdAt,
  pullStartedAt: tasks.pullStartedAt,
  pullStoppedAt: tasks.pullStoppedAt,
  startedAt: tasks.startedAt,
  stoppingAt: tasks.stoppingAt,
  executionStoppedAt: tasks.executionStoppedAt,
  stoppedAt: tasks.stoppedAt,
  connectivityAt: tasks.connectivityAt,
};
export type TaskView = Pick<TaskRow, keyof typeof taskViewColumns>;

const timestampKeys = Object.entries(taskViewColumns).flatMap(([key, column]) =>
  column.dataType === 'date' ? [key] : [],
);

/**
 * The tasks come as one JSON array that Postgres builds, an object per task keyed as TaskView: one
 * JSON.parse instead of parsing and mapping some 25 columns of every row, which was a fifth of
 * DescribeTasks' time (json_agg of a row costs Postgres less than json_build_object).
 */
const clusterTasksQuery = preparedPer((tx) => {
  // By primary key, not correlated with the cluster (checked on the rows), as in tasksByIdQuery.
  const found = tx
    .select({
      ...Object.fromEntries(
        Object.entries(taskViewColumns).map(([key, column]) => [key, sql`${column}`.as(key)]),
      ),
      clusterId: sql`${tasks.clusterId}`.as('clusterId'),
    })
    .from(tasks)
    .where(sql`${tasks.id} = any(${sql.placeholder('ids')})`);
  return tx
    .select({
      cluster: clusterRefColumns,
      tasks: sql<Record<string, unknown>[] | null>`(select json_agg(found) from (${found}) found)`,
    })
    .from(clusters)
    .where(eq(clusters.name, sql.placeholder('name')))
    .prepare('cluster_tasks');
});

/** The cluster of that name and those of its tasks with these ids, in one round trip (DescribeTasks). */
export async function findClusterTasks(
  tx: Tx,
  clusterName: string,
  ids: readonly string[],
): Promise<{ cluster: ClusterRef | undefined; tasks: TaskView[] }> {
  const [row] = await clusterTasksQuery(tx).execute({ name: clusterName, ids });
  const found = (row?.tasks ?? []).filter((task) => task.clusterId === row?.cluster.id);
  // JSON has timestamps as ISO 8601 text (with the offset), where the rows had Dates.
  for (const task of found) {
    delete task.clusterId;
    for (const key of timestampKeys) {
      const at = task[key];
      if (at !== null) task[key] = new Date(at as string);
    }
  }
  return { cluster: row?.cluster, tasks: found as TaskView[] };
}

/** ListTasks' filters; the optional ones are left out of the query when not given. */
export interface TaskListFilter {
  desiredStatus: 'RUNNING' | 'STOPPED';
  containerInstanceId?: string | undefined;
  family?: string | undefined;
  startedBy?: string | undefined;
  group?: string | undefined;
  /** Keyset pagination: ids greater than this. */
  afterId?: string | undefined;
  limit: number;
}

type OptionalTaskFilter = 'containerInstanceId' | 'family' | 'startedBy' | 'group' | 'afterId';
const OPTIONAL_TASK_FILTERS: Record<OptionalTaskFilter, (value: Placeholder) => SQL> = {
  containerInstanceId: (v) => eq(tasks.containerInstanceId, v),
  family: (v) => eq(tasks.family, v),
  startedBy: (v) => eq(tasks.startedBy, v),
  group: (v) => eq(tasks.group, v),
  afterId: (v) => gt(tasks.id, v),
};

function buildTaskListQuery(tx: Tx, given: readonly OptionalTaskFilter[]) {
  const ids = tx
    .select({ id: tasks.id })
    .from(tasks)
    .where(
      and(
        eq(tasks.clusterId, clusters.id),
        eq(tasks.desiredStatus, sql.placeholder('desiredStatus')),
        ...given.map((f) => OPTIONAL_TASK_FILTERS[f](sql.placeholder(f))),
      ),
    )
    .orderBy(asc(tasks.id))
    .limit(sql.placeholder('limit'));
  // One row with the ids as an array: the cluster's columns once, one value to parse instead of a page.
  return tx
    .select({ cluster: clusterRefColumns, ids: sql<string[]>`array(${ids})` })
    .from(clusters)
    .where(eq(clusters.name, sql.placeholder('name')))
    .prepare('list_tasks');
}

/** One prepared query per combination of the filters given (at most 32). */
const taskListQueries = new Map<string, (tx: Tx) => ReturnType<typeof buildTaskListQuery>>();

/**
 * The cluster of that name and the ids of its tasks that pass the filter, in id order, at most
 * `limit` of them, in one round trip (ListTasks).
 */
export async function listClusterTaskIds(
  tx: Tx,
  clusterName: string,
  filter: TaskListFilter,
): Promise<{ cluster: ClusterRef | undefined; ids: string[] }> {
  const given = (Object.keys(OPTIONAL_TASK_FILTERS) as OptionalTaskFilter[]).filter(
    (f) => filter[f] !== undefined,
  );
  const key = given.join(',');
  let query = taskListQueries.get(key);
  if (query === undefined) {
    query = preparedPer((t) => buildTaskListQuery(t, given));
    taskListQueries.set(key, query);
  }
  const values: Record<string, unknown> = {
    name: clusterName,
    desiredStatus: filter.desiredStatus,
    limit: filter.limit,
  };
  for (const f of given) values[f] = filter[f];
  const [row] = await query(tx).execute(values);
  return { cluster: row?.cluster, ids: row?.ids ?? [] };
}

/** Bumps the desired-state version of instances whose tasks changed; call inside the changing tx. */
export async function bumpDesiredVersions(tx: Tx, instanceIds: readonly string[]): Promise<void> {
  if (instanceIds.length === 0) return;
  await tx
    .update(containerInstances)
    .set({ desiredVersion: sql`${containerInstances.desiredVersion} + 1` })
    .where(inArray(containerInstances.id, [...new Set(instanceIds)]));
}

export interface TaskStop {
  taskId: string;
  stopCode: StopCode;
  /** stoppedReason. */
  reason: string;
}

/**
 * Asks for tasks of a cluster to stop: desiredStatus STOPPED with stopCode and stoppedReason, the
 * instances' desired versions bumped; the caller wakes those agents after the commit. StopTask and
 * the services worker both stop tasks through here.
 *
 * Task rows are locked in id order (as agent reports lock them) before the instance rows are
 * touched (the order every stopper uses), so stoppers and reports cannot deadlock. A task already
 * being stopped, or STOPPED, keeps its first stop: nothing changes and nothing is sent again. A task
 * no agent was ever given (no instance) is STOPPED at once.
 */
export async function requestTaskStops(
  tx: Tx,
  clusterId: string,
  stops: readonly TaskStop[],
  now: Date,
  /** bump: false when the caller bumps the versions itself, after locking more instance rows in id order. */
  options: { bump?: boolean } = {},
): Promise<{ rows: TaskRow[]; stopped: string[]; instanceIds: string[] }> {
  if (stops.length === 0) return { rows: [], stopped: [], instanceIds: [] };
  const byId = new Map(stops.map((s) => [s.taskId, s]));
  // By primary key, the cluster checked on the rows (see tasksByIdQuery); a row of another cluster
  // (a StopTask naming the wrong cluster) is locked until the commit, never written.
  const locked = await tx
    .select()
    .from(tasks)
    .where(inArray(tasks.id, [...byId.keys()]))
    .orderBy(asc(tasks.id))
    .for('update');
  const current = locked.filter((row) => row.clusterId === clusterId);
  const rows: TaskRow[] = [];
  const stopped: string[] = [];
  const instanceIds = new Set<string>();
  for (const row of current) {
    const stop = byId.get(row.id);
    if (stop === undefined || row.desiredStatus === 'STOPPED' || row.lastStatus === 'STOPPED') {
      rows.push(row);
      continue;
    }
    const neverPlaced = row.containerInstanceId === null;
    const [updated] = await tx
      .update(tasks)
      .set({
        desiredStatus: 'STOPPED',
        stopCode: stop.stopCode,
        stoppedReason: stop.reason,
        stoppingAt: now,
        updatedAt: now,
        version: sql`${tasks.version} + 1`,
        ...(neverPlaced ? { lastStatus: 'STOPPED' as const, stoppedAt: now } : {}),
      })
      .where(eq(tasks.id, row.id))
      .returning();
    rows.push(updated ?? row);
    stopped.push(row.id);
    if (row.containerInstanceId !== null) instanceIds.add(row.containerInstanceId);
  }
  if (options.bump !== false) await bumpDesiredVersions(tx, [...instanceIds]);
  return { rows, stopped, instanceIds: [...instanceIds].sort() };
}

/** A task as ECS's DescribeTasks shows it. */
export function describeTask(
  scope: ArnScope,
  clusterName: string,
  row: TaskView,
  tags: readonly TagPair[] | undefined,
) {
  const taskArn = arns.task(scope, clusterName, row.id);
  const when = (name: string, d: Date | null) => (d === null ? {} : { [name]: epochSeconds(d) });
  return {
    taskArn,
    clusterArn: arns.cluster(scope, clusterName),
    taskDefinitionArn: arns.taskDefinition(scope, row.family, row.revision),
    ...(row.containerInstanceId === null
      ? {}
      : { containerInstanceArn: arns.containerInstance(scope, clusterName, row.containerInstanceId) }),
    overrides: { containerOverrides: row.overrides.containerOverrides, inferenceAcceleratorOverrides: [] },
    lastStatus: row.lastStatus,
    desiredStatus: row.desiredStatus,
    cpu: String(row.reservedCpu),
    memory: String(row.reservedMemory),
    containers: row.containers.map((c) => ({
      containerArn: arns.container(scope, clusterName, row.id, c.id),
      taskArn,
      name: c.name,
      image: c.image,
      ...(c.imageDigest === undefined ? {} : { imageDigest: c.imageDigest }),
      ...(c.runtimeId === undefined ? {} : { runtimeId: c.runtimeId }),
      lastStatus: c.lastStatus,
      ...(c.exitCode === undefined ? {} : { exitCode: c.exitCode }),
      ...(c.reason === undefined ? {} : { reason: c.reason }),
      networkBindings: c.networkBindings,
      networkInterfaces: [],
      healthStatus: c.healthStatus ?? 'UNKNOWN',
      cpu: String(c.cpu),
      ...(c.memory === undefined ? {} : { memory: String(c.memory) }),
      ...(c.memoryReservation === undefined ? {} : { memoryReservation: String(c.memoryReservation) }),
    })),
    ...(row.startedBy === null ? {} : { startedBy: row.startedBy }),
    group: row.group,
    launchType: row.launchType,
    version: row.version,
    healthStatus: row.healthStatus,
    ...(row.stopCode === null ? {} : { stopCode: row.stopCode }),
    ...(row.stoppedReason === null ? {} : { stoppedReason: row.stoppedReason }),
    ...(row.connectivityAt === null ? {} : { connectivity: 'CONNECTED' }),
    ...when('connectivityAt', row.connectivityAt),
    createdAt: epochSeconds(row.createdAt),
    ...when('pullStartedAt', row.pullStartedAt),
    ...when('pullStoppedAt', row.pullStoppedAt),
    ...when('startedAt', row.startedAt),
    ...when('stoppingAt', row.stoppingAt),
    ...when('executionStoppedAt', row.executionStoppedAt),
    ...when('stoppedAt', row.stoppedAt),
    enableExecuteCommand: false,
    attachments: [],
    attributes: [],
    ...(tags === undefined ? {} : { tags }),
  };
}

/** A task to create on its chosen instance. */
export interface NewTask {
  /** 32 hex characters; a fresh one when absent. */
  id?: string;
  clusterId: string;
  instanceId: string;
  placementRequestId?: string | null;
  serviceId?: string | null;
  deploymentId?: string | null;
  family: string;
  revision: number;
  containerOverrides: ContainerOverride[];
  group: string;
  startedBy: string | null;
  /** The task definition with the overrides applied. */
  definition: TaskDefinitionSpec;
  requirements: TaskRequirements;
  tags: readonly TagPair[];
}

export const newTaskId = (): string => randomBytes(16).toString('hex');

/**
 * Inserts placed tasks: PROVISIONING, desired RUNNING, already on their instance, holding their
 * reservations from this commit on. The caller bumps the instances' desired versions in the same
 * transaction and wakes their agents after the commit.
 */
export async function insertPlacedTasks(
  tx: Tx,
  scope: ArnScope,
  clusterName: string,
  list: readonly NewTask[],
  now: Date,
): Promise<string[]> {
  if (list.length === 0) return [];
  const rows = list.map((t) => ({
    id: t.id ?? newTaskId(),
    clusterId: t.clusterId,
    containerInstanceId: t.instanceId,
    placementRequestId: t.placementRequestId ?? null,
    serviceId: t.serviceId ?? null,
    deploymentId: t.deploymentId ?? null,
    family: t.family,
    revision: t.revision,
    overrides: { containerOverrides: t.containerOverrides },
    group: t.group,
    startedBy: t.startedBy,
    lastStatus: 'PROVISIONING' as const,
    desiredStatus: 'RUNNING' as const,
    containers: t.definition.containerDefinitions.map(
      (c): TaskContainer => ({
        id: randomUUID(),
        name: c.name,
        image: c.image,
        cpu: c.cpu,
        ...(c.memory === undefined ? {} : { memory: c.memory }),
        ...(c.memoryReservation === undefined ? {} : { memoryReservation: c.memoryReservation }),
        lastStatus: 'PENDING',
        networkBindings: [],
      }),
    ),
    reservedCpu: t.requirements.cpu,
    reservedMemory: t.requirements.memory,
    reservedPorts: t.requirements.ports.map((p) => `${p.protocol}:${p.hostPort}`),
    createdAt: now,
    updatedAt: now,
  }));
  await insertRowsAsJson(tx, tasks, rows);
  await putTagsOfMany(
    tx,
    rows.map((row, i) => ({
      resourceArn: arns.task(scope, clusterName, row.id),
      pairs: list[i]?.tags ?? [],
    })),
  );
  return rows.map((r) => r.id);
}

/**
 * Housekeeping: deletes at most `limit` STOPPED tasks that stopped more than `retentionMs` ago, oldest
 * first, with their tags, in one statement (repositories/batches.ts). The stop time is the agent's
 * report, so a host whose clock runs ahead could write one in the future that would never come due:
 * such a task goes once bosun's own record of it (updated_at) is that old. Answers how many went.
 */
export async function deleteStoppedTasks(
  db: Db,
  scope: ArnScope,
  retentionMs: number,
  limit: number,
): Promise<number> {
  const [row] = await db.execute<{ n: number }>(sql`
    with stale as (
      select id from tasks
       where last_status = 'STOPPED' and ${olderThan(sql`stopped_at`, retentionMs)}
       order by stopped_at limit ${limit}
       for update skip locked),
    ahead as (
      select id from tasks
       where last_status = 'STOPPED' and stopped_at > now() and ${olderThan(sql`updated_at`, retentionMs)}
       order by stopped_at limit ${limit}
       for update skip locked),
    gone as (
      delete from tasks
       where id = any(array(select id from stale union all select id from ahead limit ${limit}))
      returning id, cluster_id),
    ${untagGone((c, i) => arns.task(scope, c, i))}
    select count(*)::int as n from gone`);
  return row?.n ?? 0;
}
