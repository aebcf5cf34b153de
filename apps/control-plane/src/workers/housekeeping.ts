import { deleteOldAuditEvents } from '../repositories/audit-events.ts';
import type { BatchResult, ScanCursor } from '../repositories/batches.ts';
import { deleteInactiveInstances } from '../repositories/container-instances.ts';
import { cancelAbandonedRequests, deleteExpiredRequests } from '../repositories/placement-requests.ts';
import { deleteOldServiceEvents } from '../repositories/services.ts';
import { deleteStoppedTasks } from '../repositories/tasks.ts';
import type { WorkerDeps } from './placement.ts';
import {
  afterBatch,
  initialPasses,
  nextRound,
  type Passes,
  RETENTION_KINDS,
  type RetentionKind,
  withinBudget,
} from './retention.ts';

/** Placement requests whose RunTask caller has long stopped waiting (its wait is at most 300 s). */
const ABANDONED_REQUEST_MS = 10 * 60 * 1000;

export interface HousekeepingLimits {
  /** Most rows one statement removes (or scans, where rows may have to stay). */
  batchSize: number;
  /** A run stops taking batches after this long (the first round always completes); the next run goes on. */
  budgetMs: number;
}

/**
 * One statement of a thousand rows takes milliseconds, so locks are brief and no statement timeout
 * is ever near; 20 s of them is far beyond any steady churn, and a process shutting down waits for
 * the run in progress no longer than that.
 */
export const HOUSEKEEPING_LIMITS: HousekeepingLimits = { batchSize: 1000, budgetMs: 20_000 };

export interface HousekeepingReport {
  /** Rows removed (abandonedRequests: cancelled) per kind. */
  removed: Record<RetentionKind, number>;
  /** Statements run, and the most rows one of them removed. */
  batches: number;
  largestBatch: number;
  /** false: the budget ran out first; the next run continues. */
  finished: boolean;
  elapsedMs: number;
}

/**
 * The periodic job (every 5 min): removes what the retention settings say nobody needs any more —
 * STOPPED tasks (ECS shows them for about an hour), service events, audit events, deregistered instances, finished
 * placement requests — and cancels placement requests nobody waits for. In batches of at most
 * `batchSize` rows, each its own statement, so no lock is held long and no transaction grows with the
 * backlog; in rounds across the kinds (workers/retention.ts), so every kind progresses in every run;
 * until everything due is gone or the time budget is spent. Every statement skips rows others hold
 * and is idempotent, so two processes (or a job run twice) at once just share the work.
 */
export async function housekeeping(
  deps: WorkerDeps,
  limits: HousekeepingLimits = HOUSEKEEPING_LIMITS,
): Promise<HousekeepingReport> {
  const { db, scope } = deps;
  const { retention } = deps.settings;
  const n = limits.batchSize;
  const removedOnly = async (removed: Promise<number>): Promise<BatchResult> => {
    const count = await removed;
    return { removed: count, more: count >= n };
  };
  const cursors = new Map<RetentionKind, ScanCursor>();
  const batch: Record<RetentionKind, () => Promise<BatchResult>> = {
    abandonedRequests: () => removedOnly(cancelAbandonedRequests(db, ABANDONED_REQUEST_MS, n)),
    stoppedTasks: () => removedOnly(deleteStoppedTasks(db, scope, retention.stoppedTaskMs, n)),
    serviceEvents: () => removedOnly(deleteOldServiceEvents(db, retention.serviceEventMs, n)),
    auditEvents: () => removedOnly(deleteOldAuditEvents(db, retention.auditEventMs, n)),
    inactiveInstances: () =>
      deleteInactiveInstances(db, scope, retention.inactiveInstanceMs, n, cursors.get('inactiveInstances')),
    placementRequests: () =>
      deleteExpiredRequests(db, retention.requestMs, n, cursors.get('placementRequests')),
  };

  const started = performance.now();
  const removed = Object.fromEntries(RETENTION_KINDS.map((k) => [k, 0])) as Record<RetentionKind, number>;
  let passes: Passes = initialPasses();
  let batches = 0;
  let largestBatch = 0;
  let finished = true;
  rounds: for (let round = 0; ; round++) {
    const kinds = nextRound(passes);
    if (kinds.length === 0) break;
    for (const kind of kinds) {
      if (!withinBudget(round, performance.now() - started, limits.budgetMs)) {
        finished = false;
        break rounds;
      }
      const result = await batch[kind]();
      batches++;
      removed[kind] += result.removed;
      largestBatch = Math.max(largestBatch, result.removed);
      if (result.cursor === undefined) cursors.delete(kind);
      else cursors.set(kind, result.cursor);
      const next = afterBatch(passes, kind, result.more);
      passes = next.passes;
      for (const k of next.restarted) cursors.delete(k);
    }
  }
  const report = { removed, batches, largestBatch, finished, elapsedMs: performance.now() - started };
  if (largestBatch > 0 || !finished) deps.log.info(report, 'housekeeping');
  return report;
}
