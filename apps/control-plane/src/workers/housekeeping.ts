import { expirePlacementRequests } from '../repositories/placement-requests.ts';
import { deleteStoppedTasks } from '../repositories/tasks.ts';
import type { WorkerDeps } from './placement.ts';

/** Placement requests whose RunTask caller has long stopped waiting. */
const ABANDONED_REQUEST_MS = 10 * 60 * 1000;
/** How long a clientToken keeps answering with its first outcome. */
const REQUEST_RETENTION_MS = 24 * 3600 * 1000;

/**
 * The periodic job: forgets STOPPED tasks older than the retention (ECS shows stopped tasks for about
 * an hour), cancels placement requests nobody waits for any more, and drops old finished requests that
 * no task refers to. Every statement is idempotent, so running it twice or in two processes is harmless.
 */
export async function housekeeping(deps: WorkerDeps): Promise<{ tasks: number; requests: number }> {
  const now = deps.clock();
  const at = (agoMs: number) => new Date(now.getTime() - agoMs);
  const tasks = await deleteStoppedTasks(deps.db, deps.scope, at(deps.settings.stoppedTaskRetentionMs));
  const requests = await expirePlacementRequests(
    deps.db,
    now,
    at(ABANDONED_REQUEST_MS),
    at(REQUEST_RETENTION_MS),
  );
  if (tasks > 0 || requests > 0) deps.log.info({ tasks, requests }, 'housekeeping');
  return { tasks, requests };
}
