import type { ArnScope } from '@bosun/model';
import type { TaskRequirements } from '@bosun/scheduler';
import type { FastifyBaseLogger } from 'fastify';
import type { Notifier } from '../agent-protocol/wake-ups.ts';
import type { Db, Tx } from '../db/client.ts';
import { loadSnapshot, type SnapshotOptions } from '../repositories/instance-snapshot.ts';
import { bumpDesiredVersions, insertPlacedTasks, type NewTask } from '../repositories/tasks.ts';
import type { InstanceSnapshot } from './inputs.ts';

/**
 * The one plan applier, shared by RunTask/StartTask placement (workers/placement.ts) and the services
 * worker (workers/services.ts): plan on a snapshot, then in one transaction lock the chosen instance
 * rows, re-check that the plan still fits on the fresh rows, insert the tasks, bump the instances'
 * desired versions; after the commit, wake the agents. A plan that no longer fits is a conflict, a
 * value: the transaction rolls back and the caller plans again on fresh state, so no host is ever
 * over-committed, however many control-plane processes place at once.
 */

export interface Conflict {
  kind: 'conflict';
  why: string;
}

/** What an attempt committed, and the channels to publish once it has. */
export interface Committed<R> {
  kind: 'committed';
  result: R;
  wake: readonly string[];
}

export type Attempt<R> = Conflict | Committed<R>;

/** Thrown only to roll a conflicting transaction back; never leaves this module. */
class RollBack extends Error {
  constructor(readonly conflict: Conflict) {
    super(conflict.why);
  }
}

/** Runs `fn` in a transaction that commits unless `fn` answers a conflict, which rolls it back. */
export async function transactionOrConflict<R>(
  db: Db,
  fn: (tx: Tx) => Promise<Attempt<R>>,
): Promise<Attempt<R>> {
  try {
    return await db.transaction(async (tx) => {
      const attempt = await fn(tx);
      if (attempt.kind === 'conflict') throw new RollBack(attempt);
      return attempt;
    });
  } catch (err) {
    if (err instanceof RollBack) return err.conflict;
    throw err;
  }
}

/**
 * Attempts until one commits (at most `limit + 1` times), then publishes its wake-ups: after the
 * commit, so a woken agent or caller reads the new rows. Past the limit something is badly contended:
 * it throws, and BullMQ retries the job later.
 */
export async function untilCommitted<R>(
  deps: { notifier: Notifier; log: FastifyBaseLogger },
  what: string,
  limit: number,
  attempt: (n: number) => Promise<Attempt<R>>,
): Promise<{ result: R; conflicts: number }> {
  for (let n = 0; n <= limit; n++) {
    const outcome = await attempt(n);
    if (outcome.kind === 'committed') {
      if (outcome.wake.length > 0) await deps.notifier.publishAll([...outcome.wake]);
      return { result: outcome.result, conflicts: n };
    }
    deps.log.debug({ why: outcome.why, attempt: n }, `${what}: conflict under lock; planning again`);
  }
  throw new Error(`${what}: still conflicting after ${limit} re-plans`);
}

/** A plan to commit: the tasks to create, where, and what else the transaction touched. */
export interface Plan {
  clusterId: string;
  clusterName: string;
  scope: ArnScope;
  now: Date;
  agentTimeoutMs: number;
  tasks: readonly (NewTask & { distinctInstance?: boolean })[];
  /** Placed under distinctInstance unless a task says otherwise. */
  distinctInstance: boolean;
  /** Instances whose tasks the same transaction stopped: locked with the others, versions bumped. */
  alsoTouched?: readonly string[];
}

/**
 * Locks every instance row the plan touches (id order), re-checks the plan on the fresh rows, then
 * inserts its tasks and bumps the touched instances' versions. Answers the conflict, or the instance
 * ids whose agents are to be woken.
 */
export async function applyPlan(tx: Tx, plan: Plan): Promise<Conflict | { instanceIds: string[] }> {
  const planned = plan.tasks.map((t) => ({
    instanceId: t.instanceId,
    requirements: t.requirements,
    ...(t.distinctInstance === undefined ? {} : { distinctInstance: t.distinctInstance }),
  }));
  const why = await lockAndRecheck(
    tx,
    plan.clusterId,
    { scope: plan.scope, clusterName: plan.clusterName, agentTimeoutMs: plan.agentTimeoutMs },
    planned,
    plan.distinctInstance,
    plan.alsoTouched,
  );
  if (why !== undefined) return { kind: 'conflict', why };
  await insertPlacedTasks(tx, plan.scope, plan.clusterName, plan.tasks, plan.now);
  const instanceIds = [
    ...new Set([...(plan.alsoTouched ?? []), ...plan.tasks.map((t) => t.instanceId)]),
  ].sort();
  await bumpDesiredVersions(tx, instanceIds);
  return { instanceIds };
}

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
async function lockAndRecheck(
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
