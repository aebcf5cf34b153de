import { randomBytes, randomUUID } from 'node:crypto';
import { type ArnScope, arns, type TagPair, type TaskDefinitionSpec } from '@bosun/model';
import type { TaskRequirements } from '@bosun/scheduler';
import type { Tx } from '../db/client.ts';
import { insertRowsAsJson } from '../db/insert-json.ts';
import { type ContainerOverride, type TaskContainer, tasks } from '../db/schema/index.ts';
import { putTagsOfMany } from '../repositories/tags.ts';
import { type InstanceSnapshot, loadSnapshot, type SnapshotOptions } from './snapshot.ts';

/**
 * The commit half of "plan, then apply", shared by RunTask/StartTask placement (worker.ts) and the
 * services worker: lock the chosen instance rows, re-check that the plan still fits on the fresh rows,
 * insert the tasks. A plan that no longer fits is a conflict: the caller rolls back and re-plans on
 * fresh state, so no host is ever over-committed, however many control-plane processes place at once.
 */

/** One task of a plan: where it goes and what it holds there. */
export interface PlannedTask {
  instanceId: string;
  requirements: TaskRequirements;
  /** Placed under distinctInstance: no other task of its group may be on the instance. */
  distinctInstance?: boolean;
}

/**
 * Locks the instance rows of the plan (plus `alsoLock`, e.g. hosts whose tasks the same transaction
 * stops) `for update` in id order — the order every locker of instance rows uses, so two cannot
 * deadlock — and re-checks the plan against them. Returns why it no longer fits, or undefined.
 */
export async function lockAndRecheck(
  tx: Tx,
  clusterId: string,
  options: Omit<SnapshotOptions, 'ids' | 'lock'>,
  planned: readonly PlannedTask[],
  distinctInstance: boolean,
  alsoLock: readonly string[] = [],
): Promise<string | undefined> {
  const ids = [...new Set([...planned.map((p) => p.instanceId), ...alsoLock])].sort();
  if (ids.length === 0) return undefined;
  const fresh = await loadSnapshot(tx, clusterId, { ...options, ids, lock: true });
  return recheckPlan(planned, fresh, distinctInstance);
}

/** Why the plan no longer fits the (locked, fresh) instance rows; undefined when it still does. */
export function recheckPlan(
  planned: readonly PlannedTask[],
  fresh: readonly InstanceSnapshot[],
  distinctInstance: boolean,
): string | undefined {
  const byId = new Map(fresh.map((s) => [s.row.id, s]));
  const perInstance = new Map<string, PlannedTask[]>();
  for (const p of planned) {
    const list = perInstance.get(p.instanceId) ?? [];
    list.push(p);
    perInstance.set(p.instanceId, list);
  }
  for (const [id, list] of perInstance) {
    const s = byId.get(id);
    if (s === undefined) return `${id} is gone`;
    const c = s.candidate;
    if (c.status !== 'ACTIVE') return `${id} is ${c.status}`;
    if (!c.agentConnected) return `${id} lost its agent`;
    const cpu = list.reduce((n, p) => n + p.requirements.cpu, 0);
    const memory = list.reduce((n, p) => n + p.requirements.memory, 0);
    if (c.remainingCpu < cpu) return `${id} has ${c.remainingCpu} CPU units left`;
    if (c.remainingMemory < memory) return `${id} has ${c.remainingMemory} MiB left`;
    const ports = new Set(c.usedPorts);
    for (const p of list) {
      for (const port of p.requirements.ports) {
        const key = `${port.protocol}:${port.hostPort}`;
        if (ports.has(key)) return `${id} port ${key} taken`;
        ports.add(key);
      }
    }
    for (const p of list) {
      if (!(p.distinctInstance ?? distinctInstance)) continue;
      const group = p.requirements.group;
      if ((s.groupCounts.get(group) ?? 0) > 0) return `${id} got a task of ${group}`;
      if (list.some((q) => q !== p && q.requirements.group === group)) {
        return `${id} would get two tasks of ${group}`;
      }
    }
  }
  return undefined;
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
