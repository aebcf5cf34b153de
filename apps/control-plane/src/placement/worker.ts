import { type ArnScope, arns } from '@bosun/model';
import {
  type PlacementConstraint,
  type PlacementFailure,
  type PlacementStrategy,
  parseClusterQuery,
  placeTasks,
  type TaskRequirements,
} from '@bosun/scheduler';
import { Worker } from 'bullmq';
import { and, eq, sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import type { Db, Tx } from '../db/client.ts';
import {
  clusters,
  type PlacementOutcome,
  type PlacementSpec,
  placementRequests,
  taskDefinitions,
} from '../db/schema/index.ts';
import type { ControlPlaneSettings } from '../ecs/action.ts';
import { channels, type Notifier } from '../notifier.ts';
import { QUEUE_CATALOG, type Queues, type TypedJob } from '../queues.ts';
import { applyOverrides, bumpDesiredVersions, requirementsOf } from '../repositories/tasks.ts';
import { startServiceWorkers } from '../services/worker.ts';
import { type InstanceSnapshot, loadSnapshot } from './candidates.ts';
import { insertPlacedTasks, lockAndRecheck } from './commit.ts';
import { housekeeping } from './housekeeping.ts';

export interface PlacementDeps {
  db: Db;
  scope: ArnScope;
  settings: ControlPlaneSettings;
  notifier: Notifier;
  clock: () => Date;
  log: FastifyBaseLogger;
}

/** Re-plans after a conflict under lock are cheap; past this many something is badly contended. */
const MAX_REPLANS = 25;

interface Plan {
  /** Instance id per task to create, in order. */
  placements: string[];
  failures: PlacementOutcome['failures'];
}

type Attempt =
  | { kind: 'skipped' }
  | { kind: 'conflict'; why: string }
  | { kind: 'done'; instanceIds: string[] };

/**
 * Turns one PENDING placement request into tasks. Plans on an unlocked snapshot, then commits in one
 * transaction that locks the request and the chosen instance rows (`for update`, in id order) and
 * re-checks each chosen instance's capacity on fresh rows; when another RunTask got there first it
 * re-plans. Concurrent workers in any number of processes therefore never over-commit a host, and a
 * request that is no longer PENDING (done by an earlier run of the job, or cancelled by a RunTask that
 * stopped waiting) is left alone.
 */
export async function processPlacementRequest(deps: PlacementDeps, requestId: string): Promise<void> {
  const { db } = deps;
  const [request] = await db.select().from(placementRequests).where(eq(placementRequests.id, requestId));
  if (request?.status !== 'PENDING') return;
  const log = deps.log.child({ placementRequestId: requestId, clusterId: request.clusterId });
  const [cluster] = await db.select().from(clusters).where(eq(clusters.id, request.clusterId));
  const [definition] = await db
    .select()
    .from(taskDefinitions)
    .where(
      and(
        eq(taskDefinitions.family, request.spec.family),
        eq(taskDefinitions.revision, request.spec.revision),
      ),
    );
  if (!cluster || !definition)
    throw new Error(`placement request ${requestId} names a missing cluster or revision`);
  const spec = applyOverrides(definition.spec, request.spec.containerOverrides);
  const requirements = requirementsOf(spec, request.spec.group);

  for (let attempt = 0; attempt <= MAX_REPLANS; attempt++) {
    const now = deps.clock();
    const snapshotOptions = {
      scope: deps.scope,
      clusterName: cluster.name,
      now,
      agentTimeoutMs: deps.settings.agentTimeoutMs,
    };
    const snapshot = await loadSnapshot(db, cluster.id, {
      ...snapshotOptions,
      ...(request.spec.containerInstanceIds ? { ids: request.spec.containerInstanceIds } : {}),
    });
    const plan = request.spec.containerInstanceIds
      ? planStartTask(request.spec.containerInstanceIds, snapshot, requirements, deps.scope, cluster.name)
      : planRunTask(request.spec, requirements, snapshot, seedOf(requestId));

    const result = await db.transaction(async (tx): Promise<Attempt> => {
      const [locked] = await tx
        .select({ status: placementRequests.status })
        .from(placementRequests)
        .where(eq(placementRequests.id, requestId))
        .for('update');
      if (locked?.status !== 'PENDING') return { kind: 'skipped' };
      // Share lock: DeleteCluster (for update) cannot slip in between this check and the inserts.
      const [live] = await tx.select().from(clusters).where(eq(clusters.id, cluster.id)).for('share');
      if (live?.status !== 'ACTIVE') {
        await finish(tx, requestId, now, {
          taskIds: [],
          failures: [
            { arn: arns.cluster(deps.scope, cluster.name), reason: 'MISSING', detail: 'cluster is INACTIVE' },
          ],
        });
        return { kind: 'done', instanceIds: [] };
      }
      const chosen = [...new Set(plan.placements)].sort();
      const why = await lockAndRecheck(
        tx,
        cluster.id,
        snapshotOptions,
        plan.placements.map((instanceId) => ({ instanceId, requirements })),
        request.spec.constraints.some((c) => c.type === 'distinctInstance'),
      );
      if (why !== undefined) return { kind: 'conflict', why };

      const taskIds = await insertPlacedTasks(
        tx,
        deps.scope,
        cluster.name,
        plan.placements.map((instanceId) => ({
          clusterId: cluster.id,
          instanceId,
          placementRequestId: requestId,
          family: request.spec.family,
          revision: request.spec.revision,
          containerOverrides: request.spec.containerOverrides,
          group: request.spec.group,
          startedBy: request.spec.startedBy ?? null,
          definition: spec,
          requirements,
          tags: request.spec.tags,
        })),
        now,
      );
      await bumpDesiredVersions(tx, chosen);
      await finish(tx, requestId, now, { taskIds, failures: plan.failures });
      return { kind: 'done', instanceIds: chosen };
    });

    if (result.kind === 'skipped') return;
    if (result.kind === 'done') {
      log.info({ placed: plan.placements.length, failures: plan.failures.length, attempt }, 'placement done');
      // After the commit, so a woken agent or RunTask reads the new rows.
      await Promise.all([
        ...result.instanceIds.map((id) => deps.notifier.publish(channels.instance(id))),
        deps.notifier.publish(channels.placement(requestId)),
      ]);
      return;
    }
    log.debug({ why: result.why, attempt }, 'placement conflict under lock; re-planning');
    await db
      .update(placementRequests)
      .set({ conflicts: sql`${placementRequests.conflicts} + 1` })
      .where(eq(placementRequests.id, requestId));
  }
  throw new Error(`placement request ${requestId}: still conflicting after ${MAX_REPLANS} re-plans`);
}

async function finish(tx: Tx, id: string, now: Date, outcome: PlacementOutcome) {
  await tx
    .update(placementRequests)
    .set({ status: 'DONE', outcome, completedAt: now })
    .where(eq(placementRequests.id, id));
}

/** The same request always replays the same decisions (random strategy included). */
const seedOf = (requestId: string): number => Number.parseInt(requestId.replace(/-/g, '').slice(0, 8), 16);

export function compileConstraints(spec: PlacementSpec): PlacementConstraint[] {
  return spec.constraints.map((c) => {
    if (c.type === 'distinctInstance') return c;
    const parsed = parseClusterQuery(c.expression);
    // Checked by RunTask before the request was stored; a failure here is a bug, not bad input.
    if (!parsed.ok) throw new Error(`stored memberOf expression does not parse: ${parsed.error.message}`);
    return { type: 'memberOf', expression: parsed.value };
  });
}

function planRunTask(
  spec: PlacementSpec,
  task: TaskRequirements,
  snapshot: readonly InstanceSnapshot[],
  seed: number,
): Plan {
  const result = placeTasks(
    {
      task,
      count: spec.count,
      constraints: compileConstraints(spec),
      strategy: spec.strategy as PlacementStrategy[],
      seed,
      existingGroupTasks: new Map(snapshot.map((s) => [s.row.id, s.groupCounts.get(spec.group) ?? 0])),
    },
    snapshot.map((s) => s.candidate),
  );
  return {
    placements: result.placements.map((p) => p.instanceId),
    failures: result.failures.map((f) => failureOf(f, result.explanation)),
  };
}

/** StartTask: one copy on each named instance, no constraints or strategy; failures per instance. */
function planStartTask(
  ids: readonly string[],
  snapshot: readonly InstanceSnapshot[],
  task: TaskRequirements,
  scope: ArnScope,
  clusterName: string,
): Plan {
  const byId = new Map(snapshot.map((s) => [s.row.id, s.candidate]));
  const plan: Plan = { placements: [], failures: [] };
  for (const id of ids) {
    const candidate = byId.get(id);
    if (candidate === undefined) {
      plan.failures.push({ arn: arns.containerInstance(scope, clusterName, id), reason: 'MISSING' });
      continue;
    }
    const result = placeTasks({ task, count: 1, constraints: [], strategy: [], seed: 0 }, [candidate]);
    const failure = result.failures[0];
    if (result.placements.length === 1) {
      plan.placements.push(id);
      // The same instance named twice: the second copy sees what the first one took.
      byId.set(id, {
        ...candidate,
        remainingCpu: candidate.remainingCpu - task.cpu,
        remainingMemory: candidate.remainingMemory - task.memory,
        usedPorts: new Set([...candidate.usedPorts, ...task.ports.map((p) => `${p.protocol}:${p.hostPort}`)]),
      });
    } else if (failure !== undefined) {
      plan.failures.push(failureOf(failure, result.explanation));
    }
  }
  return plan;
}

/** ECS puts only the reason in failures[]; bosun adds why in `detail`, naming the instances. */
function failureOf(f: PlacementFailure, explanation: string): PlacementOutcome['failures'][number] {
  return { arn: f.arn, reason: f.reason, detail: `${f.detail}. ${explanation}` };
}

export interface Workers {
  close(): Promise<void>;
}

/**
 * Starts this process's BullMQ workers (placement, the periodic housekeeping, the services worker and
 * its sweep) and makes sure the periodic schedules exist. Every control-plane process runs them; BullMQ hands each job to one.
 */
export async function startWorkers(deps: PlacementDeps & { redis: Redis; queues: Queues }): Promise<Workers> {
  const connection = deps.redis;
  const prefix = deps.queues.prefix;
  const placement = new Worker(
    QUEUE_CATALOG.placement.name,
    async (job: TypedJob<'placement'>) => {
      const { placementRequestId } = QUEUE_CATALOG.placement.payload.parse(job.data);
      await processPlacementRequest(deps, placementRequestId);
    },
    { connection, prefix, concurrency: QUEUE_CATALOG.placement.concurrency },
  );
  const cleanup = new Worker(
    QUEUE_CATALOG.housekeeping.name,
    async () => {
      await housekeeping(deps);
    },
    { connection, prefix, concurrency: QUEUE_CATALOG.housekeeping.concurrency },
  );
  for (const worker of [placement, cleanup]) {
    worker.on('failed', (job, err) =>
      deps.log.error({ err, jobId: job?.id, queue: worker.name }, 'job failed'),
    );
    worker.on('error', (err) => deps.log.error({ err, queue: worker.name }, 'worker error'));
  }
  await Promise.all([placement.waitUntilReady(), cleanup.waitUntilReady()]);
  await deps.queues.scheduleHousekeeping();
  // Re-asserted now and then, like the services sweep: a flushed Redis loses schedules.
  const reassert = setInterval(() => {
    deps.queues
      .scheduleHousekeeping()
      .catch((err: unknown) => deps.log.warn({ err }, 'cannot re-assert housekeeping'));
  }, 60_000);
  const serviceWorkers = await startServiceWorkers(deps);
  return {
    async close() {
      clearInterval(reassert);
      await Promise.all([placement.close(), cleanup.close(), serviceWorkers.close()]);
    },
  };
}
