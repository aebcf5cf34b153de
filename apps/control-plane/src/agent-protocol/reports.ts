import {
  type ContainerStateReport,
  containerStatusRank,
  type StopCode,
  type TaskLastStatus,
  type TaskStateReport,
  taskStatusRank,
} from '@bosun/model';
import type { TaskContainer } from '../db/schema/index.ts';
import type { TaskRow } from '../repositories/tasks.ts';

/**
 * The columns a report may change. mergeTaskReport's patch always has every one of them, so the
 * statement that writes it has one shape and is prepared once.
 */
export const TASK_PATCH_COLUMNS = [
  'lastStatus',
  'desiredStatus',
  'healthStatus',
  'stopCode',
  'stoppedReason',
  'containers',
  'pullStartedAt',
  'pullStoppedAt',
  'startedAt',
  'stoppingAt',
  'executionStoppedAt',
  'stoppedAt',
  'connectivityAt',
] as const satisfies readonly (keyof TaskRow)[];

export type TaskPatch = Pick<TaskRow, (typeof TASK_PATCH_COLUMNS)[number]>;

const RUNNING = taskStatusRank('RUNNING');
const DEACTIVATING = taskStatusRank('DEACTIVATING');
const ms = (v: number | undefined): Date | null => (v === undefined ? null : new Date(v));

/**
 * Applies one of the agent's task reports to the stored task. Pure and idempotent: the same report
 * twice gives the same row, and statuses only move forward — a report older than what is stored (by
 * taskStatusRank) is ignored whole, and a STOPPED task stays STOPPED. Fields the report leaves out keep
 * their stored values, so a later, thinner report never blanks an exit code or a port binding.
 *
 * Returns undefined when nothing changes.
 */
export function mergeTaskReport(row: TaskRow, report: TaskStateReport, now: Date): TaskPatch | undefined {
  const stored = taskStatusRank(row.lastStatus);
  const reported = taskStatusRank(report.lastStatus);
  if (reported < stored) return undefined;
  const lastStatus: TaskLastStatus = reported > stored ? report.lastStatus : row.lastStatus;
  const rank = taskStatusRank(lastStatus);
  const stopped = lastStatus === 'STOPPED';

  const stoppedAt = row.stoppedAt ?? ms(report.stoppedAt) ?? (stopped ? now : null);
  const everRan = row.startedAt !== null || report.startedAt !== undefined || stored >= RUNNING;
  const stopCode: StopCode | null =
    row.stopCode ??
    report.stopCode ??
    (stopped ? (everRan ? 'EssentialContainerExited' : 'TaskFailedToStart') : null);
  const patch: TaskPatch = {
    lastStatus,
    // A task that stopped on its own (essential container exited, failed to start) is not wanted back.
    desiredStatus: stopped ? 'STOPPED' : row.desiredStatus,
    healthStatus: report.healthStatus ?? row.healthStatus,
    stopCode,
    stoppedReason:
      row.stoppedReason ??
      report.stoppedReason ??
      (stopCode === 'EssentialContainerExited'
        ? 'Essential container in task exited'
        : stopCode === 'TaskFailedToStart'
          ? 'Task failed to start'
          : null),
    containers: row.containers.map((c) =>
      mergeContainer(
        c,
        report.containers.find((r) => r.name === c.name),
      ),
    ),
    pullStartedAt: row.pullStartedAt ?? ms(report.pullStartedAt),
    pullStoppedAt: row.pullStoppedAt ?? ms(report.pullStoppedAt),
    startedAt: row.startedAt ?? ms(report.startedAt) ?? (lastStatus === 'RUNNING' ? now : null),
    stoppingAt: row.stoppingAt ?? ms(report.stoppingAt) ?? (rank >= DEACTIVATING ? now : null),
    executionStoppedAt:
      row.executionStoppedAt ?? ms(report.executionStoppedAt) ?? (stopped ? stoppedAt : null),
    stoppedAt,
    connectivityAt: row.connectivityAt ?? now,
  };
  if (!stopped) {
    patch.stopCode = row.stopCode;
    patch.stoppedReason = row.stoppedReason;
  }
  return changed(row, patch) ? patch : undefined;
}

function mergeContainer(stored: TaskContainer, report: ContainerStateReport | undefined): TaskContainer {
  if (report === undefined) return stored;
  if (containerStatusRank(report.lastStatus) < containerStatusRank(stored.lastStatus)) return stored;
  const merged: TaskContainer = {
    ...stored,
    lastStatus: report.lastStatus,
    networkBindings:
      report.networkBindings !== undefined && report.networkBindings.length > 0
        ? report.networkBindings
        : stored.networkBindings,
  };
  if (report.runtimeId !== undefined) merged.runtimeId = report.runtimeId;
  if (report.exitCode !== undefined) merged.exitCode = report.exitCode;
  if (report.reason !== undefined) merged.reason = report.reason;
  if (report.healthStatus !== undefined) merged.healthStatus = report.healthStatus;
  if (report.imageDigest !== undefined) merged.imageDigest = report.imageDigest;
  return merged;
}

function changed(row: TaskRow, patch: TaskPatch): boolean {
  for (const key of Object.keys(patch) as (keyof TaskPatch)[]) {
    const a = row[key];
    const b = patch[key];
    if (a instanceof Date || b instanceof Date) {
      if ((a as Date | null)?.getTime() !== (b as Date | null)?.getTime()) return true;
    } else if (JSON.stringify(a) !== JSON.stringify(b)) return true;
  }
  return false;
}
