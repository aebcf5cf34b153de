import type { TaskDefinitionSpec, TaskDefinitionStatus } from '@bosun/model';
import { and, asc, desc, eq, gt, like, lt, or, sql } from 'drizzle-orm';
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

/** Marks an ACTIVE revision INACTIVE; undefined when there is no such ACTIVE revision. */
export async function deregisterRevision(
  tx: Tx,
  ref: RevisionRef,
  now: Date,
): Promise<TaskDefinitionRow | undefined> {
  const [updated] = await tx
    .update(taskDefinitions)
    .set({ status: 'INACTIVE', deregisteredAt: now })
    .where(
      and(
        eq(taskDefinitions.family, ref.family),
        eq(taskDefinitions.revision, ref.revision),
        eq(taskDefinitions.status, 'ACTIVE'),
      ),
    )
    .returning();
  return updated;
}

export async function revisionExists(tx: Tx, ref: RevisionRef): Promise<boolean> {
  const rows = await tx
    .select({ n: sql`1` })
    .from(taskDefinitions)
    .where(and(eq(taskDefinitions.family, ref.family), eq(taskDefinitions.revision, ref.revision)));
  return rows.length > 0;
}

/**
 * Revisions with this status (of one family when given), in (family, revision) order or its reverse,
 * after the `after` key, at most `limit` (ListTaskDefinitions).
 */
export async function listRevisions(
  tx: Tx,
  filter: { status: TaskDefinitionStatus; family?: string | undefined },
  page: { descending: boolean; after?: RevisionRef | undefined; limit: number },
): Promise<RevisionRef[]> {
  const past = page.descending ? lt : gt;
  const after = page.after;
  return tx
    .select({ family: taskDefinitions.family, revision: taskDefinitions.revision })
    .from(taskDefinitions)
    .where(
      and(
        eq(taskDefinitions.status, filter.status),
        filter.family ? eq(taskDefinitions.family, filter.family) : undefined,
        after
          ? or(
              past(taskDefinitions.family, after.family),
              and(eq(taskDefinitions.family, after.family), past(taskDefinitions.revision, after.revision)),
            )
          : undefined,
      ),
    )
    .orderBy(
      page.descending ? desc(taskDefinitions.family) : asc(taskDefinitions.family),
      page.descending ? desc(taskDefinitions.revision) : asc(taskDefinitions.revision),
    )
    .limit(page.limit);
}

/**
 * Families whose name starts with `prefix`, in name order after `afterFamily`, at most `limit`
 * (ListTaskDefinitionFamilies). A family is ACTIVE while any of its revisions is, else INACTIVE.
 */
export async function listFamilies(
  tx: Tx,
  filter: { prefix?: string | undefined; status: 'ACTIVE' | 'INACTIVE' | 'ALL' },
  page: { afterFamily?: string | undefined; limit: number },
): Promise<string[]> {
  const anyActive = sql<boolean>`bool_or(${taskDefinitions.status} = 'ACTIVE')`;
  const rows = await tx
    .select({ family: taskDefinitions.family })
    .from(taskDefinitions)
    .where(
      and(
        filter.prefix ? like(taskDefinitions.family, `${escapeLike(filter.prefix)}%`) : undefined,
        page.afterFamily !== undefined ? gt(taskDefinitions.family, page.afterFamily) : undefined,
      ),
    )
    .groupBy(taskDefinitions.family)
    .having(
      filter.status === 'ACTIVE'
        ? anyActive
        : filter.status === 'INACTIVE'
          ? sql`not ${anyActive}`
          : undefined,
    )
    .orderBy(asc(taskDefinitions.family))
    .limit(page.limit);
  return rows.map((r) => r.family);
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** A revision by name: `family:revision`. */
export interface RevisionRef {
  family: string;
  revision: number;
}

export const revisionKey = (r: RevisionRef): string => `${r.family}:${r.revision}`;

/**
 * Task definition revisions by family:revision. A revision's spec never changes once registered
 * (deregistering changes its status only), so every process may keep the ones it has read: agents ask
 * for their desired state on every change, and each answer carries the definition of every task.
 */
const specCache = new Map<string, TaskDefinitionSpec>();
const SPEC_CACHE_LIMIT = 2000;

/**
 * The specs of the named revisions, keyed by `revisionKey`, from this process's cache or else one
 * query. A revision that does not exist is absent from the answer.
 */
export async function loadSpecs(
  db: Tx,
  wanted: readonly RevisionRef[],
): Promise<Map<string, TaskDefinitionSpec>> {
  const out = new Map<string, TaskDefinitionSpec>();
  const missing = new Map<string, RevisionRef>();
  for (const w of wanted) {
    const key = revisionKey(w);
    const spec = specCache.get(key);
    if (spec !== undefined) out.set(key, spec);
    else missing.set(key, w);
  }
  if (missing.size === 0) return out;
  const rows = await db
    .select({
      family: taskDefinitions.family,
      revision: taskDefinitions.revision,
      spec: taskDefinitions.spec,
    })
    .from(taskDefinitions)
    .where(
      sql`(${taskDefinitions.family}, ${taskDefinitions.revision}) in (${sql.join(
        [...missing.values()].map((r) => sql`(${r.family}, ${r.revision})`),
        sql`, `,
      )})`,
    );
  for (const r of rows) {
    const key = revisionKey(r);
    out.set(key, r.spec);
    // Oldest first out: a Map iterates in insertion order.
    if (specCache.size >= SPEC_CACHE_LIMIT) specCache.delete(specCache.keys().next().value as string);
    specCache.set(key, r.spec);
  }
  return out;
}
