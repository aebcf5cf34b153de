import type { TaskDefinitionSpec } from '@bosun/model';
import { and, desc, eq, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { taskDefinitionFamilies, taskDefinitions } from '../db/schema/index.ts';

export type TaskDefinitionRow = typeof taskDefinitions.$inferSelect;

/** Inserts the next revision of the family; the counter upsert serialises concurrent registrations. */
export async function insertNextRevision(
  tx: Tx,
  spec: TaskDefinitionSpec,
  registeredBy: string,
  now: Date,
): Promise<TaskDefinitionRow> {
  const [fam] = await tx
    .insert(taskDefinitionFamilies)
    .values({ family: spec.family, latestRevision: 1 })
    .onConflictDoUpdate({
      target: taskDefinitionFamilies.family,
      set: { latestRevision: sql`${taskDefinitionFamilies.latestRevision} + 1` },
    })
    .returning({ revision: taskDefinitionFamilies.latestRevision });
  const [row] = await tx
    .insert(taskDefinitions)
    .values({
      family: spec.family,
      revision: fam?.revision ?? 1,
      status: 'ACTIVE',
      spec,
      registeredBy,
      registeredAt: now,
    })
    .returning();
  if (!row) throw new Error('insert returned no row');
  return row;
}

/** `family:revision` exactly, or the latest ACTIVE revision of `family`. */
export async function findTaskDefinition(
  tx: Tx,
  ref: { family: string; revision?: number },
): Promise<TaskDefinitionRow | undefined> {
  if (ref.revision !== undefined) {
    const [row] = await tx
      .select()
      .from(taskDefinitions)
      .where(and(eq(taskDefinitions.family, ref.family), eq(taskDefinitions.revision, ref.revision)));
    return row;
  }
  const [row] = await tx
    .select()
    .from(taskDefinitions)
    .where(and(eq(taskDefinitions.family, ref.family), eq(taskDefinitions.status, 'ACTIVE')))
    .orderBy(desc(taskDefinitions.revision))
    .limit(1);
  return row;
}
