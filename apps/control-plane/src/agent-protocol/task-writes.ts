import { ServerError, type TaskStateReport } from '@bosun/model';
import { eq } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { tasks } from '../db/schema/index.ts';
import type { TaskRow } from '../repositories/tasks.ts';
import { mergeTaskReport } from './reports.ts';
import { writeTaskPatch } from './statements.ts';

/** A task written by others this many times while one report merges into it is not normal; the agent retries. */
const MAX_REPORT_RETRIES = 10;

/** One write of a report: the task before it and as written. */
export interface TaskWrite {
  from: TaskRow;
  to: TaskRow;
}

/**
 * Merges a task's reports into it, in the order given, and writes each change. Grouped writes lock
 * their task rows (in id order, for their statement only); each is written only if its version is
 * still the one the merge was computed from (every writer of a task bumps it), else the row is read
 * again and the report merged onto it.
 */
export async function applyTaskReports(
  db: Db,
  row: TaskRow,
  reports: readonly TaskStateReport[],
  now: Date,
): Promise<TaskWrite[]> {
  const writes: TaskWrite[] = [];
  let current: TaskRow | undefined = row;
  for (const report of reports) {
    for (let attempt = 0; current !== undefined; attempt++) {
      const patch = mergeTaskReport(current, report, now);
      if (patch === undefined) break;
      const written = await writeTaskPatch(db, { row: current, patch, now });
      if (written !== undefined) {
        writes.push({ from: current, to: written });
        current = written;
        break;
      }
      if (attempt >= MAX_REPORT_RETRIES) throw new ServerError('The task kept changing; retry the report.');
      [current] = await db.select().from(tasks).where(eq(tasks.id, current.id));
    }
  }
  return writes;
}

/** What the services scheduler decides on: a service task's status or health. */
export const concernsService = (w: TaskWrite): w is TaskWrite & { from: { serviceId: string } } =>
  w.from.serviceId !== null &&
  (w.from.lastStatus !== w.to.lastStatus || w.from.healthStatus !== w.to.healthStatus);
