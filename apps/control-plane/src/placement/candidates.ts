import { type ArnScope, arns } from '@bosun/model';
import type { CandidateInstance } from '@bosun/scheduler';
import { and, asc, eq, inArray, ne, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { containerInstances } from '../db/schema/index.ts';
import { type ContainerInstanceRow, instanceUsage } from '../repositories/container-instances.ts';

/** One container instance as placement sees it, plus the task groups counted on it. */
export interface InstanceSnapshot {
  row: ContainerInstanceRow;
  candidate: CandidateInstance;
  /** Tasks not yet STOPPED on the instance, per group. */
  groupCounts: ReadonlyMap<string, number>;
}

export interface SnapshotOptions {
  scope: ArnScope;
  clusterName: string;
  now: Date;
  agentTimeoutMs: number;
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
  const query = tx
    .select()
    .from(containerInstances)
    .where(
      and(
        eq(containerInstances.clusterId, clusterId),
        ne(containerInstances.status, 'INACTIVE'),
        o.ids === undefined ? undefined : inArray(containerInstances.id, [...o.ids]),
      ),
    )
    .orderBy(asc(containerInstances.id));
  const rows = await (o.lock ? query.for('update') : query);
  const ids = rows.map((r) => r.id);
  const usage = await instanceUsage(tx, ids);
  const groups = await groupCounts(tx, ids);
  return rows.map((row) => {
    const used = usage.get(row.id);
    const counts = groups.get(row.id) ?? new Map<string, number>();
    const attributes: Record<string, string> = {};
    for (const a of row.attributes) attributes[a.name] = a.value ?? '';
    const candidate: CandidateInstance = {
      instanceId: row.id,
      arn: arns.containerInstance(o.scope, o.clusterName, row.id),
      status: row.status,
      remainingCpu: row.registeredCpu - (used?.cpu ?? 0),
      remainingMemory: row.registeredMemory - (used?.memory ?? 0),
      usedPorts: new Set([...row.reservedPorts, ...(used?.ports ?? [])]),
      agentConnected:
        row.lastHeartbeatAt !== null && o.now.getTime() - row.lastHeartbeatAt.getTime() < o.agentTimeoutMs,
      agentVersion: row.versionInfo?.agentVersion ?? '',
      registeredAt: row.registeredAt.getTime(),
      runningTasksCount: used?.running ?? 0,
      attributes,
      taskGroups: new Set(counts.keys()),
    };
    return { row, candidate, groupCounts: counts };
  });
}

async function groupCounts(tx: Tx, instanceIds: string[]): Promise<Map<string, Map<string, number>>> {
  const out = new Map<string, Map<string, number>>();
  if (instanceIds.length === 0) return out;
  const rows = await tx.execute<{ id: string; group: string; n: number }>(sql`
    select container_instance_id as id, "group", count(*)::int as n
      from tasks
     where container_instance_id in ${instanceIds} and last_status <> 'STOPPED'
     group by container_instance_id, "group"`);
  for (const r of rows) {
    let m = out.get(r.id);
    if (m === undefined) {
      m = new Map();
      out.set(r.id, m);
    }
    m.set(r.group, r.n);
  }
  return out;
}
