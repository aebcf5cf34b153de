import { type ArnScope, arns, type TaskDefinitionSpec } from '@bosun/model';
import {
  type BatchRequest,
  type BatchResult,
  type PlacementConstraint,
  type PlacementStrategy,
  parseClusterQuery,
  placeBatch,
  type TaskRequirements,
} from '@bosun/scheduler';
import { Worker } from 'bullmq';
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { channels, type Notifier } from '../agent-protocol/wake-ups.ts';
import type { Db, Tx } from '../db/client.ts';
import {
  clusters,
  type PlacementOutcome,
  type PlacementSpec,
  placementRequests,
} from '../db/schema/index.ts';
import type { ControlPlaneSettings } from '../ecs/action.ts';
import { loadSpecs, revisionKey } from '../repositories/task-definitions.ts';
import { applyOverrides, bumpDesiredVersions, requirementsOf } from '../repositories/tasks.ts';
import { insertPlacedTasks, lockAndRecheck, newTaskId } from '../scheduling/apply-plan.ts';
import { loadSnapshot } from '../scheduling/snapshot.ts';
import { housekeeping } from './housekeeping.ts';
import { QUEUE_CATALOG, type Queues, type TypedJob } from './queues.ts';
import { startServiceWorkers } from './services.ts';

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
/**
 * Requests planned and committed together. Large enough that a burst of RunTasks is a few batches,
 * small enough that one commit (its instance-row locks, which heartbeats also wait on) stays short.
 */
const BATCH_LIMIT = 64;

type RequestRow = typeof placementRequests.$inferSelect;

/** A PENDING request as the batch plans it; `outcome` set means it is answered without placing. */
interface Prepared {
  row: RequestRow;
  /** The task definition as its tasks run it (containerOverrides applied). */
  definition?: TaskDefinitionSpec;
  requirements?: TaskRequirements;
  batch?: BatchRequest;
  distinctInstance: boolean;
  outcome?: PlacementOutcome;
}

type Attempt =
  | { kind: 'conflict'; why: string }
  | { kind: 'done'; instanceIds: string[]; requestIds: string[] };

/**
 * Places every PENDING RunTask/StartTask request of a cluster, in batches of BATCH_LIMIT (oldest
 * first): one snapshot of the cluster, the calls planned one after the other by the pure placeBatch,
 * then one transaction that locks the requests and the chosen instance rows (`for update`, in id
 * order), re-checks the plan on fresh rows and inserts every task. When another writer got there
 * first (a services commit, a second process) the batch re-plans. Requests that stopped being PENDING
 * meanwhile (done by an earlier run of the job, or cancelled by a RunTask that gave up waiting) are
 * left alone; dropping their share of the plan only frees capacity, so the rest still fits.
 */
export async function placePendingRequests(deps: PlacementDeps, clusterId: string): Promise<void> {
  const seen = new Set<string>();
  for (;;) {
    const pending = await deps.db
      .select()
      .from(placementRequests)
      .where(and(eq(placementRequests.clusterId, clusterId), eq(placementRequests.status, 'PENDING')))
      .orderBy(asc(placementRequests.createdAt), asc(placementRequests.id))
      .limit(BATCH_LIMIT);
    const fresh = pending.filter((r) => !seen.has(r.id));
    // Only what this job has not tried yet, so a request that stays PENDING cannot spin the loop.
    if (fresh.length === 0) return;
    for (const r of fresh) seen.add(r.id);
    await placeBatchOfRequests(deps, clusterId, fresh);
  }
}

/** The job's request and everything else PENDING in its cluster. */
export async function processPlacementRequest(deps: PlacementDeps, requestId: string): Promise<void> {
  const [request] = await deps.db
    .select({ clusterId: placementRequests.clusterId })
    .from(placementRequests)
    .where(eq(placementRequests.id, requestId));
  if (request !== undefined) await placePendingRequests(deps, request.clusterId);
}

async function placeBatchOfRequests(deps: PlacementDeps, clusterId: string, rows: RequestRow[]) {
  const { db } = deps;
  const log = deps.log.child({ clusterId });
  const [cluster] = await db.select().from(clusters).where(eq(clusters.id, clusterId));
  if (!cluster) throw new Error(`placement requests name a missing cluster ${clusterId}`);
  const prepared = await prepareRequests(db, deps, cluster.name, rows);

  for (let attempt = 0; attempt <= MAX_REPLANS; attempt++) {
    const now = deps.clock();
    const snapshotOptions = {
      scope: deps.scope,
      clusterName: cluster.name,
      now,
      agentTimeoutMs: deps.settings.agentTimeoutMs,
    };
    const startedAt = performance.now();
    const snapshot = await loadSnapshot(db, cluster.id, snapshotOptions);
    const loadedAt = performance.now();
    const toPlace = prepared.filter((p) => p.batch !== undefined);
    const results = placeBatch(
      toPlace.map((p) => p.batch as BatchRequest),
      snapshot.map((s) => s.candidate),
      new Map(snapshot.map((s) => [s.row.id, s.groupCounts])),
    );
    const plans = new Map(toPlace.map((p, i) => [p.row.id, results[i] as BatchResult]));

    const plannedAt = performance.now();
    const result = await db.transaction(async (tx): Promise<Attempt> => {
      const live = await tx
        .select({ id: placementRequests.id })
        .from(placementRequests)
        .where(
          and(
            inArray(
              placementRequests.id,
              prepared.map((p) => p.row.id),
            ),
            eq(placementRequests.status, 'PENDING'),
          ),
        )
        .orderBy(asc(placementRequests.id))
        .for('update');
      const liveIds = new Set(live.map((r) => r.id));
      const batch = prepared.filter((p) => liveIds.has(p.row.id));
      if (batch.length === 0) return { kind: 'done', instanceIds: [], requestIds: [] };
      // Share lock: DeleteCluster (for update) cannot slip in between this check and the inserts.
      const [current] = await tx.select().from(clusters).where(eq(clusters.id, cluster.id)).for('share');
      const outcomes = new Map<string, PlacementOutcome>();
      if (current?.status !== 'ACTIVE') {
        const failure = {
          arn: arns.cluster(deps.scope, cluster.name),
          reason: 'MISSING' as const,
          detail: 'cluster is INACTIVE',
        };
        for (const p of batch) outcomes.set(p.row.id, { taskIds: [], failures: [failure] });
        await finishAll(tx, now, outcomes);
        return { kind: 'done', instanceIds: [], requestIds: [...outcomes.keys()] };
      }

      const planned = batch.flatMap((p) =>
        (plans.get(p.row.id)?.placements ?? []).map((placement) => ({
          instanceId: placement.instanceId,
          requirements: p.requirements as TaskRequirements,
          distinctInstance: p.distinctInstance,
        })),
      );
      const why = await lockAndRecheck(tx, cluster.id, snapshotOptions, planned, false);
      if (why !== undefined) return { kind: 'conflict', why };

      const newTasks = batch.flatMap((p) =>
        (plans.get(p.row.id)?.placements ?? []).map((placement) => ({
          id: newTaskId(),
          requestId: p.row.id,
          task: {
            clusterId: cluster.id,
            instanceId: placement.instanceId,
            placementRequestId: p.row.id,
            family: p.row.spec.family,
            revision: p.row.spec.revision,
            containerOverrides: p.row.spec.containerOverrides,
            group: p.row.spec.group,
            startedBy: p.row.spec.startedBy ?? null,
            definition: p.definition as TaskDefinitionSpec,
            requirements: p.requirements as TaskRequirements,
            tags: p.row.spec.tags,
          },
        })),
      );
      await insertPlacedTasks(
        tx,
        deps.scope,
        cluster.name,
        newTasks.map((t) => ({ ...t.task, id: t.id })),
        now,
      );
      for (const p of batch) {
        outcomes.set(
          p.row.id,
          p.outcome ?? outcomeOf(p, plans.get(p.row.id), newTasks, deps.scope, cluster.name),
        );
      }
      const chosen = [...new Set(planned.map((p) => p.instanceId))].sort();
      await bumpDesiredVersions(tx, chosen);
      await finishAll(tx, now, outcomes);
      return { kind: 'done', instanceIds: chosen, requestIds: [...outcomes.keys()] };
    });

    if (result.kind === 'done') {
      if (result.requestIds.length > 0) {
        log.info(
          {
            requests: result.requestIds.length,
            instances: result.instanceIds.length,
            attempt,
            // Where a batch's time goes, for tuning BATCH_LIMIT and the snapshot query.
            snapshotMs: Math.round(loadedAt - startedAt),
            planMs: Math.round(plannedAt - loadedAt),
            commitMs: Math.round(performance.now() - plannedAt),
          },
          'placement batch done',
        );
      }
      // After the commit, so a woken agent or RunTask reads the new rows.
      await deps.notifier.publishAll([
        ...result.instanceIds.map((id) => channels.instance(id)),
        ...result.requestIds.map((id) => channels.placement(id)),
      ]);
      return;
    }
    log.debug({ why: result.why, attempt }, 'placement conflict under lock; re-planning');
    await db
      .update(placementRequests)
      .set({ conflicts: sql`${placementRequests.conflicts} + 1` })
      .where(
        inArray(
          placementRequests.id,
          prepared.map((p) => p.row.id),
        ),
      );
  }
  throw new Error(`placement batch of cluster ${clusterId}: still conflicting after ${MAX_REPLANS} re-plans`);
}

/**
 * Reads the task definitions of a batch in one query and turns each request into what placeBatch
 * takes. A request that cannot be planned (its revision or a stored expression unreadable: a bug, not
 * bad input, since RunTask checked both) gets a failure outcome of its own rather than failing the
 * batch, so one bad row cannot hold up a cluster's placements.
 */
async function prepareRequests(
  db: Db,
  deps: PlacementDeps,
  clusterName: string,
  rows: RequestRow[],
): Promise<Prepared[]> {
  const byKey = await loadSpecs(
    db,
    rows.map((r) => r.spec),
  );
  return rows.map((row): Prepared => {
    const stored = byKey.get(revisionKey(row.spec));
    const fail = (detail: string) => {
      deps.log.error({ placementRequestId: row.id, detail }, 'placement request cannot be planned');
      return {
        row,
        distinctInstance: false,
        outcome: {
          taskIds: [],
          failures: [{ arn: arns.cluster(deps.scope, clusterName), reason: 'MISSING' as const, detail }],
        },
      };
    };
    if (stored === undefined)
      return fail(`task definition ${row.spec.family}:${row.spec.revision} is missing`);
    const definition = applyOverrides(stored, row.spec.containerOverrides);
    const requirements = requirementsOf(definition, row.spec.group);
    const distinctInstance = row.spec.constraints.some((c) => c.type === 'distinctInstance');
    if (row.spec.containerInstanceIds) {
      return {
        row,
        definition,
        requirements,
        distinctInstance: false,
        batch: { kind: 'start' as const, task: requirements, instanceIds: row.spec.containerInstanceIds },
      };
    }
    let constraints: PlacementConstraint[];
    try {
      constraints = compileConstraints(row.spec);
    } catch (err) {
      return fail((err as Error).message);
    }
    return {
      row,
      definition,
      requirements,
      distinctInstance,
      batch: {
        kind: 'run' as const,
        request: {
          task: requirements,
          count: row.spec.count,
          constraints,
          strategy: row.spec.strategy as PlacementStrategy[],
          seed: seedOf(row.id),
        },
      },
    };
  });
}

/** RunTask's tasks and failures; StartTask's failures in the order its instances were named. */
function outcomeOf(
  p: Prepared,
  plan: BatchResult | undefined,
  newTasks: readonly { id: string; requestId: string }[],
  scope: ArnScope,
  clusterName: string,
): PlacementOutcome {
  const failures: PlacementOutcome['failures'] = [
    ...(plan?.missingInstanceIds ?? []).map((id) => ({
      arn: arns.containerInstance(scope, clusterName, id),
      reason: 'MISSING' as const,
    })),
    ...(plan?.failures ?? []).map((f) => ({
      arn: f.arn,
      reason: f.reason,
      detail: `${f.detail}. ${plan?.explanation ?? ''}`,
    })),
  ];
  const named = p.row.spec.containerInstanceIds;
  if (named !== undefined) {
    const position = (arn: string) => named.indexOf(arn.slice(arn.lastIndexOf('/') + 1));
    failures.sort((a, b) => position(a.arn) - position(b.arn));
  }
  return { taskIds: newTasks.filter((t) => t.requestId === p.row.id).map((t) => t.id), failures };
}

/** Marks the batch's requests DONE with their outcomes, in one statement. */
async function finishAll(tx: Tx, now: Date, outcomes: ReadonlyMap<string, PlacementOutcome>) {
  if (outcomes.size === 0) return;
  await tx.execute(sql`
    update placement_requests as p
       set status = 'DONE', outcome = v.value, completed_at = ${now.toISOString()}::timestamptz
      from jsonb_each(${JSON.stringify(Object.fromEntries(outcomes))}::jsonb) as v
     where p.id = v.key::uuid`);
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
      const payload = QUEUE_CATALOG.placement.payload.parse(job.data);
      if ('clusterId' in payload) await placePendingRequests(deps, payload.clusterId);
      else await processPlacementRequest(deps, payload.placementRequestId);
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
