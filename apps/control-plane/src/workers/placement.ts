import type { ArnScope } from '@bosun/model';
import { type BatchRequest, type BatchResult, placeBatch } from '@bosun/scheduler';
import type { FastifyBaseLogger } from 'fastify';
import { channels, type Notifier } from '../agent-protocol/wake-ups.ts';
import type { DependencyHealth } from '../context/dependency-health.ts';
import type { ControlPlaneSettings } from '../context/settings.ts';
import type { Db } from '../db/client.ts';
import type { PlacementOutcome } from '../db/schema/index.ts';
import { findClusterById } from '../repositories/clusters.ts';
import { loadSnapshot } from '../repositories/instance-snapshot.ts';
import {
  countPlacementConflict,
  finishPlacementRequests,
  listPendingRequests,
  lockPendingRequests,
  type PlacementRequestRow,
} from '../repositories/placement-requests.ts';
import { loadSpecs, revisionKey } from '../repositories/task-definitions.ts';
import { newTaskId } from '../repositories/tasks.ts';
import { applyPlan, transactionOrConflict, untilCommitted } from '../scheduling/apply-plan.ts';
import {
  clusterFailure,
  outcomeOf,
  type PreparedRequest,
  prepareRequest,
} from '../scheduling/placement-requests.ts';

/** What every worker of this process is given. */
export interface WorkerDeps {
  db: Db;
  scope: ArnScope;
  settings: ControlPlaneSettings;
  notifier: Notifier;
  clock: () => Date;
  log: FastifyBaseLogger;
  /** What this process saw of Postgres and Redis: liveness waits after an outage of either. */
  health: DependencyHealth;
}

/** Re-plans after a conflict under lock are cheap; past this many something is badly contended. */
const MAX_REPLANS = 25;
/**
 * Requests planned and committed together. Large enough that a burst of RunTasks is a few batches,
 * small enough that one commit (its instance-row locks, which heartbeats also wait on) stays short.
 */
const BATCH_LIMIT = 64;

/**
 * Places every PENDING RunTask/StartTask request of a cluster, in batches of BATCH_LIMIT (oldest
 * first): one snapshot of the cluster, the calls planned one after the other by the pure placeBatch,
 * then the plan applied in one transaction (scheduling/apply-plan.ts) that also locks the requests
 * still PENDING. Requests that stopped being PENDING meanwhile (done by an earlier run of the job, or
 * cancelled by a RunTask that gave up waiting) are left alone; dropping their share of the plan only
 * frees capacity, so the rest still fits.
 */
export async function placePendingRequests(deps: WorkerDeps, clusterId: string): Promise<void> {
  const seen = new Set<string>();
  for (;;) {
    const pending = await listPendingRequests(deps.db, clusterId, BATCH_LIMIT);
    const fresh = pending.filter((r) => !seen.has(r.id));
    // Only what this job has not tried yet, so a request that stays PENDING cannot spin the loop.
    if (fresh.length === 0) return;
    for (const r of fresh) seen.add(r.id);
    await placeBatchOfRequests(deps, clusterId, fresh);
  }
}

async function placeBatchOfRequests(deps: WorkerDeps, clusterId: string, rows: PlacementRequestRow[]) {
  const { db, scope } = deps;
  const log = deps.log.child({ clusterId });
  // Load → map.
  const cluster = await findClusterById(db, clusterId);
  if (!cluster) throw new Error(`placement requests name a missing cluster ${clusterId}`);
  const specs = await loadSpecs(
    db,
    rows.map((r) => r.spec),
  );
  const prepared = rows.map((row) =>
    prepareRequest(row, specs.get(revisionKey(row.spec)), scope, cluster.name),
  );
  for (const p of prepared) {
    if (p.outcome !== undefined) {
      log.error({ placementRequestId: p.row.id, outcome: p.outcome }, 'placement request cannot be planned');
    }
  }
  const requestIds = prepared.map((p) => p.row.id);

  const { result } = await untilCommitted(
    deps,
    `placement of cluster ${clusterId}`,
    MAX_REPLANS,
    async (n) => {
      if (n > 0) await countPlacementConflict(db, requestIds);
      const now = deps.clock();
      const context = { scope, clusterName: cluster.name, now, agentTimeoutMs: deps.settings.agentTimeoutMs };
      // Decide.
      const startedAt = performance.now();
      const snapshot = await loadSnapshot(db, cluster.id, context);
      const loadedAt = performance.now();
      const toPlace = prepared.filter((p) => p.batch !== undefined);
      const results = placeBatch(
        toPlace.map((p) => p.batch as BatchRequest),
        snapshot.map((s) => s.candidate),
        new Map(snapshot.map((s) => [s.row.id, s.groupCounts])),
      );
      const plans = new Map(toPlace.map((p, i) => [p.row.id, results[i] as BatchResult]));
      const plannedAt = performance.now();
      // Apply.
      return transactionOrConflict(db, async (tx) => {
        const live = await lockPendingRequests(tx, requestIds);
        const batch = prepared.filter((p) => live.has(p.row.id));
        const outcomes = new Map<string, PlacementOutcome>();
        const done = (instanceIds: string[]) => ({
          kind: 'committed' as const,
          result: {
            requests: outcomes.size,
            instances: instanceIds.length,
            timings: { startedAt, loadedAt, plannedAt },
          },
          wake: [
            ...instanceIds.map((id) => channels.instance(id)),
            ...[...outcomes.keys()].map(channels.placement),
          ],
        });
        if (batch.length === 0) return done([]);
        const current = await findClusterById(tx, cluster.id, { lock: 'share' });
        if (current?.status !== 'ACTIVE') {
          for (const p of batch)
            outcomes.set(p.row.id, clusterFailure(scope, cluster.name, 'cluster is INACTIVE'));
          await finishPlacementRequests(tx, now, outcomes);
          return done([]);
        }
        const newTasks = batch.flatMap((p) => tasksOf(p, plans.get(p.row.id), cluster.id));
        const applied = await applyPlan(tx, {
          clusterId: cluster.id,
          clusterName: cluster.name,
          scope,
          now,
          agentTimeoutMs: deps.settings.agentTimeoutMs,
          tasks: newTasks,
          distinctInstance: false,
        });
        if ('kind' in applied) return applied;
        for (const p of batch) {
          const taskIds = newTasks.filter((t) => t.placementRequestId === p.row.id).map((t) => t.id);
          outcomes.set(p.row.id, outcomeOf(p, plans.get(p.row.id), taskIds, scope, cluster.name));
        }
        await finishPlacementRequests(tx, now, outcomes);
        return done(applied.instanceIds);
      });
    },
  );
  if (result.requests > 0) {
    const { startedAt, loadedAt, plannedAt } = result.timings;
    log.info(
      {
        requests: result.requests,
        instances: result.instances,
        // Where a batch's time goes, for tuning BATCH_LIMIT and the snapshot query.
        snapshotMs: Math.round(loadedAt - startedAt),
        planMs: Math.round(plannedAt - loadedAt),
        commitMs: Math.round(performance.now() - plannedAt),
      },
      'placement batch done',
    );
  }
}

/** The tasks one request's plan creates. */
function tasksOf(p: PreparedRequest, plan: BatchResult | undefined, clusterId: string) {
  if (p.definition === undefined || p.requirements === undefined) return [];
  const { definition, requirements } = p;
  return (plan?.placements ?? []).map((placement) => ({
    id: newTaskId(),
    clusterId,
    instanceId: placement.instanceId,
    placementRequestId: p.row.id,
    family: p.row.spec.family,
    revision: p.row.spec.revision,
    containerOverrides: p.row.spec.containerOverrides,
    group: p.row.spec.group,
    startedBy: p.row.spec.startedBy ?? null,
    definition,
    requirements,
    tags: p.row.spec.tags,
    distinctInstance: p.distinctInstance,
  }));
}
