import { and, asc, eq, ne, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { tasks } from '../db/schema/index.ts';

/** Reads of tasks the ECS API makes besides describing and listing them (repositories/tasks.ts). */

/** Whether a task with this id exists, in any cluster (the ARN's cluster is not checked, as before). */
export async function taskExists(tx: Tx, id: string): Promise<boolean> {
  const rows = await tx.select({ n: sql`1` }).from(tasks).where(eq(tasks.id, id));
  return rows.length > 0;
}

/** Ids of the service's tasks still meant to run and not STOPPED, in id order (the order stops lock them). */
export async function listLiveServiceTaskIds(tx: Tx, serviceId: string): Promise<string[]> {
  const rows = await tx
    .select({ id: tasks.id })
    .from(tasks)
    .where(
      and(
        eq(tasks.serviceId, serviceId),
        eq(tasks.desiredStatus, 'RUNNING'),
        ne(tasks.lastStatus, 'STOPPED'),
      ),
    )
    .orderBy(asc(tasks.id));
  return rows.map((r) => r.id);
}
