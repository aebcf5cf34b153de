import type { TaskDefinitionSpec } from '@bosun/model';
import { and, desc, eq, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { preparedPer } from '../db/prepared.ts';
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

// Prepared: RunTask, StartTask and services resolve a task definition on every call.
const revisionQuery = preparedPer((tx) =>
  tx
    .select()
    .from(taskDefinitions)
    .where(
      and(
        eq(taskDefinitions.family, sql.placeholder('family')),
        eq(taskDefinitions.revision, sql.placeholder('revision')),
      ),
    )
    .prepare('task_definition_revision'),
);
const latestActiveQuery = preparedPer((tx) =>
  tx
    .select()
    .from(taskDefinitions)
    .where(and(eq(taskDefinitions.family, sql.placeholder('family')), eq(taskDefinitions.status, 'ACTIVE')))
    .orderBy(desc(taskDefinitions.revision))
    .limit(1)
    .prepare('task_definition_latest_active'),
);

/** `family:revision` exactly, or the latest ACTIVE revision of `family`. */
export async function findTaskDefinition(
  tx: Tx,
  ref: { family: string; revision?: number },
): Promise<TaskDefinitionRow | undefined> {
  const [row] =
    ref.revision !== undefined
      ? await revisionQuery(tx).execute({ family: ref.family, revision: ref.revision })
      : await latestActiveQuery(tx).execute({ family: ref.family });
  return row;
}
