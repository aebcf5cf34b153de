import { randomBytes } from 'node:crypto';
import { type ArnScope, parseArn, parseTaskDefinitionRef } from '@bosun/model';
import type { ServiceDeployment, ServiceEvent } from '@bosun/scheduler';
import { and, asc, desc, eq, inArray, ne, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { Tx } from '../db/client.ts';
import { preparedPer } from '../db/prepared.ts';
import { clusters, deployments, serviceEvents, services } from '../db/schema/index.ts';
import type { Queues } from '../workers/queues.ts';
import { olderThan } from './batches.ts';
import { type ClusterRef, clusterRefColumns } from './clusters.ts';

export type ServiceRow = typeof services.$inferSelect;
export type DeploymentRow = typeof deployments.$inferSelect;
export type ServiceEventRow = typeof serviceEvents.$inferSelect;
/** What DescribeServices shows of a deployment and of an event. */
export type DeploymentView = Pick<
  DeploymentRow,
  | 'id'
  | 'status'
  | 'family'
  | 'revision'
  | 'desiredCount'
  | 'pendingCount'
  | 'runningCount'
  | 'failedTasks'
  | 'rolloutState'
  | 'rolloutStateReason'
  | 'createdAt'
  | 'updatedAt'
>;
export type ServiceEventView = Pick<ServiceEventRow, 'id' | 'createdAt' | 'message'>;
/** As json_build_object sends them: timestamps as ISO 8601 text. */
type AsJson<T> = { [K in keyof T]: T[K] extends Date ? string : T[K] };

/** ECS shows (and keeps) the last 100 events of a service. */
export const MAX_SERVICE_EVENTS = 100;

const SERVICE_NAME_RE = /^[a-zA-Z0-9_-]{1,255}$/;

/**
 * A service name, or a service ARN of this cluster (`service/CLUSTER/NAME`, or the old `service/NAME`)
 * → the name. An ARN of another region, account or cluster names no service here.
 */
export function serviceNameFromRef(scope: ArnScope, clusterName: string, ref: string): string | undefined {
  if (!ref.startsWith('arn:')) return SERVICE_NAME_RE.test(ref) ? ref : undefined;
  const arn = parseArn(ref);
  if (arn?.kind !== 'service' || arn.region !== scope.region || arn.accountId !== scope.accountId)
    return undefined;
  const name =
    arn.parts.length === 2 && arn.parts[0] === clusterName
      ? arn.parts[1]
      : arn.parts.length === 1
        ? arn.parts[0]
        : undefined;
  return name !== undefined && SERVICE_NAME_RE.test(name) ? name : undefined;
}

/**
 * The services of a cluster with these names: the live one (ACTIVE or DRAINING) where there is one,
 * else the most recently created INACTIVE one — a deleted service stays describable, as in ECS.
 */
export async function findServicesByName(
  tx: Tx,
  clusterId: string,
  names: readonly string[],
): Promise<Map<string, ServiceRow>> {
  const out = new Map<string, ServiceRow>();
  if (names.length === 0) return out;
  const rows = await tx
    .select()
    .from(services)
    .where(and(eq(services.clusterId, clusterId), inArray(services.name, [...new Set(names)])))
    .orderBy(desc(services.createdAt));
  for (const row of rows) {
    const seen = out.get(row.name);
    if (seen === undefined || (seen.status === 'INACTIVE' && row.status !== 'INACTIVE'))
      out.set(row.name, row);
  }
  return out;
}

const clusterServicesQuery = preparedPer((tx) => {
  // findServicesByName's choice, made in SQL so only the chosen rows' deployments and events are read.
  const candidate = alias(services, 'candidate');
  const chosen = tx
    .selectDistinctOn([candidate.name], { id: candidate.id })
    .from(candidate)
    .where(
      and(eq(candidate.clusterId, clusters.id), sql`${candidate.name} = any(${sql.placeholder('names')})`),
    )
    .orderBy(candidate.name, sql`${candidate.status} = 'INACTIVE'`, desc(candidate.createdAt));
  return tx
    .select({
      cluster: clusterRefColumns,
      service: services,
      // Ordered as listDeployments and listEvents order them.
      deployments: sql<AsJson<DeploymentView>[] | null>`(
        select json_agg(json_build_object(
                 'id', d.id, 'status', d.status, 'family', d.family, 'revision', d.revision,
                 'desiredCount', d.desired_count, 'pendingCount', d.pending_count,
                 'runningCount', d.running_count, 'failedTasks', d.failed_tasks,
                 'rolloutState', d.rollout_state, 'rolloutStateReason', d.rollout_state_reason,
                 'createdAt', d.created_at, 'updatedAt', d.updated_at)
               order by d.created_at desc, d.id)
          from deployments d
         where d.service_id = ${services.id})`,
      events: sql<AsJson<ServiceEventView>[] | null>`(
        select json_agg(json_build_object('id', e.id, 'createdAt', e.created_at, 'message', e.message)
                        order by e.created_at desc, e.seq desc)
          from (select id, created_at, seq, message from service_events
                 where service_id = ${services.id}
                 order by created_at desc, seq desc
                 limit ${MAX_SERVICE_EVENTS}) e)`,
    })
    .from(clusters)
    .leftJoin(services, and(eq(services.clusterId, clusters.id), inArray(services.id, chosen)))
    .where(eq(clusters.name, sql.placeholder('name')))
    .prepare('cluster_services');
});

/**
 * The cluster of that name and, by name, the services findServicesByName would choose, each with its
 * deployments and last events, in one round trip (DescribeServices).
 */
export async function findClusterServices(
  tx: Tx,
  clusterName: string,
  names: readonly string[],
): Promise<{
  cluster: ClusterRef | undefined;
  services: Map<string, { row: ServiceRow; deployments: DeploymentView[]; events: ServiceEventView[] }>;
}> {
  const rows = await clusterServicesQuery(tx).execute({ name: clusterName, names: [...new Set(names)] });
  const out = new Map<
    string,
    { row: ServiceRow; deployments: DeploymentView[]; events: ServiceEventView[] }
  >();
  for (const r of rows) {
    if (r.service === null) continue;
    out.set(r.service.name, {
      row: r.service,
      deployments: (r.deployments ?? []).map((d) => ({
        ...d,
        createdAt: new Date(d.createdAt),
        updatedAt: new Date(d.updatedAt),
      })),
      events: (r.events ?? []).map((e) => ({ ...e, createdAt: new Date(e.createdAt) })),
    });
  }
  return { cluster: rows[0]?.cluster, services: out };
}

/** The live (not INACTIVE) service of that name, locked `for update` when asked (Update/DeleteService). */
export async function findLiveService(
  tx: Tx,
  clusterId: string,
  name: string,
  options: { lock?: boolean } = {},
): Promise<ServiceRow | undefined> {
  const q = tx
    .select()
    .from(services)
    .where(and(eq(services.clusterId, clusterId), eq(services.name, name), ne(services.status, 'INACTIVE')));
  const [row] = await (options.lock ? q.for('update') : q);
  return row;
}

/** `ecs-svc/` and 19 digits, as ECS's deployment ids (and its tasks' startedBy) look. */
export function newDeploymentId(): string {
  const n = randomBytes(8).readBigUInt64BE() % 10_000_000_000_000_000_000n;
  return `ecs-svc/${n.toString().padStart(19, '0')}`;
}

export async function listDeployments(tx: Tx, serviceIds: readonly string[]): Promise<DeploymentRow[]> {
  if (serviceIds.length === 0) return [];
  return tx
    .select()
    .from(deployments)
    .where(inArray(deployments.serviceId, [...serviceIds]))
    .orderBy(desc(deployments.createdAt), asc(deployments.id));
}

/** `family` and `revision` of a deployment, from its task definition ARN. */
function revisionOf(d: ServiceDeployment): { family: string; revision: number } {
  const ref = parseTaskDefinitionRef(d.taskDefinition.arn);
  if (ref?.revision === undefined) throw new Error(`deployment ${d.id} has no revision ARN`);
  return { family: ref.family, revision: ref.revision };
}

/**
 * Writes a service's deployments as the scheduler returned them (whole rows: they carry its memory in
 * `launch`) and deletes the removed ones.
 */
export async function writeDeployments(
  tx: Tx,
  serviceId: string,
  list: readonly ServiceDeployment[],
  removedIds: readonly string[],
): Promise<void> {
  if (removedIds.length > 0) {
    await tx
      .delete(deployments)
      .where(and(eq(deployments.serviceId, serviceId), inArray(deployments.id, [...removedIds])));
  }
  for (const d of list) {
    const values = {
      status: d.status,
      desiredCount: d.desiredCount,
      pendingCount: d.pendingCount,
      runningCount: d.runningCount,
      failedTasks: d.failedTasks,
      rolloutState: d.rolloutState,
      rolloutStateReason: d.rolloutStateReason,
      launch: d.launch,
      updatedAt: new Date(d.updatedAt),
    };
    await tx
      .insert(deployments)
      .values({
        id: d.id,
        serviceId,
        ...revisionOf(d),
        ...values,
        createdAt: new Date(d.createdAt),
      })
      .onConflictDoUpdate({ target: deployments.id, set: values });
  }
}

/** The service's events, newest first. */
export async function listEvents(
  tx: Tx,
  serviceId: string,
  limit = MAX_SERVICE_EVENTS,
): Promise<ServiceEventRow[]> {
  return tx
    .select()
    .from(serviceEvents)
    .where(eq(serviceEvents.serviceId, serviceId))
    .orderBy(desc(serviceEvents.createdAt), desc(serviceEvents.seq))
    .limit(limit);
}

/** Appends events (given newest first, as the scheduler returns them) and keeps the last 100. */
export async function appendEvents(
  tx: Tx,
  serviceId: string,
  events: readonly ServiceEvent[],
): Promise<void> {
  if (events.length === 0) return;
  // Oldest first, so `seq` orders events of the same instant as they happened.
  await tx
    .insert(serviceEvents)
    .values(
      [...events].reverse().map((e) => ({ serviceId, createdAt: new Date(e.createdAt), message: e.message })),
    );
  await tx.execute(sql`
    delete from service_events
     where service_id = ${serviceId}
       and id not in (select id from service_events where service_id = ${serviceId}
                       order by created_at desc, seq desc limit ${MAX_SERVICE_EVENTS})`);
}

/**
 * Housekeeping: deletes at most `limit` service events older than `retentionMs`, oldest first, in one
 * statement (repositories/batches.ts). The last-100 bound per service is kept by appendEvents; this
 * one also forgets the events of quiet and deleted services.
 */
export async function deleteOldServiceEvents(db: Tx, retentionMs: number, limit: number): Promise<number> {
  const [row] = await db.execute<{ n: number }>(sql`
    with doomed as (
      select id from service_events
       where ${olderThan(sql`created_at`, retentionMs)}
       order by created_at limit ${limit}
       for update skip locked),
    gone as (delete from service_events where id = any(array(select id from doomed)) returning 1)
    select count(*)::int as n from gone`);
  return row?.n ?? 0;
}

/** Queues an evaluation of every live service of a cluster (instances changed: drained, joined, left). */
export async function evaluateClusterServices(
  tx: Tx,
  queues: Queues,
  clusterId: string,
  trigger: 'instances-changed' | 'sweep',
): Promise<number> {
  const rows = await tx
    .select({ id: services.id })
    .from(services)
    .where(and(eq(services.clusterId, clusterId), ne(services.status, 'INACTIVE')));
  for (const r of rows) await queues.evaluateService(r.id, trigger);
  return rows.length;
}
