/** The reads and writes of one service evaluation (workers/services.ts) that are not shared with the API. */
import { asc, eq, ne } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.ts';
import { containerInstances, deployments, services, tasks } from '../db/schema/index.ts';
import type { DrainingTask } from '../scheduling/inputs.ts';
import type { TaskRow } from './tasks.ts';

/** Every task of the service, STOPPED ones too, in id order. */
export async function listServiceTasks(tx: Tx, serviceId: string): Promise<TaskRow[]> {
  return tx.select().from(tasks).where(eq(tasks.serviceId, serviceId)).orderBy(asc(tasks.id));
}

/** The service's tasks with the status and last contact of their hosts, for draining. */
export async function listDrainingTasks(
  tx: Tx,
  serviceId: string,
): Promise<(DrainingTask & { id: string; desiredStatus: TaskRow['desiredStatus'] })[]> {
  return tx
    .select({
      id: tasks.id,
      desiredStatus: tasks.desiredStatus,
      lastStatus: tasks.lastStatus,
      instanceStatus: containerInstances.status,
      instanceContactAt: containerInstances.lastHeartbeatAt,
    })
    .from(tasks)
    .leftJoin(containerInstances, eq(containerInstances.id, tasks.containerInstanceId))
    .where(eq(tasks.serviceId, serviceId))
    .orderBy(asc(tasks.id));
}

/** An INACTIVE service keeps no deployments. */
export async function deleteDeployments(tx: Tx, serviceId: string): Promise<void> {
  await tx.delete(deployments).where(eq(deployments.serviceId, serviceId));
}

/** Every service not INACTIVE, for the sweep. */
export async function listLiveServiceIds(db: Db): Promise<string[]> {
  const rows = await db.select({ id: services.id }).from(services).where(ne(services.status, 'INACTIVE'));
  return rows.map((r) => r.id);
}
