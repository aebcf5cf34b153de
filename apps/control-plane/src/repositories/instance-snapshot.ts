import { and, asc, eq, inArray, ne, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { nowMs } from '../db/now.ts';
import { containerInstances } from '../db/schema/index.ts';
import {
  type InstanceSnapshot,
  type InstanceUsage,
  instanceSnapshot,
  type SnapshotContext,
} from '../scheduling/inputs.ts';

export interface SnapshotOptions extends SnapshotContext {
  /** Only these instances (StartTask, or the re-check of a plan). */
  ids?: readonly string[];
  /** `select … for update` on the instance rows, in id order so concurrent lockers cannot deadlock. */
  lock?: boolean;
}

/**
 * Instances of a cluster that are not INACTIVE (DRAINING ones too, so failures[] can say why they were
 * passed over), with what is left on each: registered resources minus the tasks not yet STOPPED, and
 * the host's reserved ports.
 */
export async function loadSnapshot(
  tx: Tx,
  clusterId: string,
  o: SnapshotOptions,
): Promise<InstanceSnapshot[]> {
  if (o.ids !== undefined && o.ids.length === 0) return [];
  // Postgres' now() with the rows: liveness compares contacts written with now() against it.
  const query = tx
    .select({ row: containerInstances, now: nowMs })
    .from(containerInstances)
    .where(
      and(
        eq(containerInstances.clusterId, clusterId),
        ne(containerInstances.status, 'INACTIVE'),
        o.ids === undefined ? undefined : inArray(containerInstances.id, [...o.ids]),
      ),
    )
    .orderBy(asc(containerInstances.id));
  const selected = await (o.lock ? query.for('update') : query);
  const rows = selected.map((s) => s.row);
  const usage = await usageByInstance(tx, clusterId, o.ids === undefined ? undefined : rows.map((r) => r.id));
  const now = new Date(selected[0]?.now ?? 0);
  return rows.map((row) => instanceSnapshot(row, usage.get(row.id), { ...o, now }));
}

/**
 * What the tasks not yet STOPPED hold on each instance, in one pass over the tasks: the whole cluster
 * (by cluster id, not a list of hundreds of instance ids to send and plan) or the given instances.
 * Ports come back as one comma-joined string per group, since Postgres cannot aggregate arrays of
 * different lengths into one.
 */
async function usageByInstance(
  tx: Tx,
  clusterId: string,
  instanceIds: readonly string[] | undefined,
): Promise<Map<string, InstanceUsage>> {
  const out = new Map<string, InstanceUsage>();
  if (instanceIds?.length === 0) return out;
  const which =
    instanceIds === undefined
      ? sql`cluster_id = ${clusterId}`
      : sql`container_instance_id in ${[...instanceIds]}`;
  const rows = await tx.execute<{
    id: string;
    group: string;
    n: number;
    cpu: number;
    memory: number;
    running: number;
    wanted: number;
    ports: string | null;
  }>(sql`
    select container_instance_id as id, "group", count(*)::int as n,
           coalesce(sum(reserved_cpu), 0)::int as cpu, coalesce(sum(reserved_memory), 0)::int as memory,
           (count(*) filter (where last_status = 'RUNNING'))::int as running,
           (count(*) filter (where desired_status = 'RUNNING'))::int as wanted,
           string_agg(nullif(array_to_string(reserved_ports, ','), ''), ',') as ports
      from tasks
     where ${which} and container_instance_id is not null and last_status <> 'STOPPED'
     group by container_instance_id, "group"`);
  for (const r of rows) {
    let u = out.get(r.id);
    if (u === undefined) {
      u = { cpu: 0, memory: 0, ports: [], running: 0, wanted: 0, groups: new Map() };
      out.set(r.id, u);
    }
    u.cpu += r.cpu;
    u.memory += r.memory;
    u.running += r.running;
    u.wanted += r.wanted;
    if (r.ports !== null) u.ports.push(...r.ports.split(','));
    u.groups.set(r.group, r.n);
  }
  return out;
}
