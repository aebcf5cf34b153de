import { and, asc, eq, inArray, ne, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { groupedLookup, groupedPer } from '../db/group-statement.ts';
import { clusters, containerInstances, tasks } from '../db/schema/index.ts';
import type { ContainerInstanceRow } from '../repositories/container-instances.ts';
import type { TaskRow } from '../repositories/tasks.ts';
import { TASK_PATCH_COLUMNS, type TaskPatch } from './reports.ts';

/**
 * The agent protocol's per-task statements, each grouped (db/group-statement.ts): when a placement
 * batch commits, the agents of a hundred hosts or more ask for their desired state and report within
 * milliseconds of each other, and each of these statements serves all that arrive together. On the
 * database itself, never in a transaction.
 *
 * A grouped write locks many rows, so it takes them in id order first (a `materialized` CTE with
 * `order by id for update`), as every other locker of instance rows or task rows does: placement, StopTask
 * and the services worker lock tasks in id order, then instances in id order. One agent's statement
 * locked one row and could not take part in a deadlock; a group in another order could.
 */

/**
 * What an instance should run, for many instances in one statement: one snapshot, so each instance's
 * version and tasks agree. Only the columns the answer needs (a task's containers and timestamps are
 * the bulk of its row and not sent here). Not prepared, as tasksByIdQuery (repositories/tasks.ts)
 * and for the same reason: a generic plan made while a young cluster had few tasks hash-joins the
 * whole table until the next ANALYZE; grouped, it runs a few times a second at most.
 */
const desiredRowsQuery = (db: Db, instanceIds: string[]) =>
  db
    .select({
      instanceId: containerInstances.id,
      version: containerInstances.desiredVersion,
      clusterName: clusters.name,
      task: {
        id: tasks.id,
        family: tasks.family,
        revision: tasks.revision,
        desiredStatus: tasks.desiredStatus,
        overrides: tasks.overrides,
        group: tasks.group,
        startedBy: tasks.startedBy,
        stopCode: tasks.stopCode,
        stoppedReason: tasks.stoppedReason,
      },
    })
    .from(containerInstances)
    .innerJoin(clusters, eq(clusters.id, containerInstances.clusterId))
    .leftJoin(
      tasks,
      and(eq(tasks.containerInstanceId, containerInstances.id), ne(tasks.lastStatus, 'STOPPED')),
    )
    .where(inArray(containerInstances.id, instanceIds))
    .orderBy(asc(tasks.createdAt), asc(tasks.id));

export type DesiredRow = Awaited<ReturnType<typeof desiredRowsQuery>>[number];

/** A report's contact: the instance and its credential's sha256. */
export interface Contact {
  instanceId: string;
  secretHash: string;
  /** The client certificate's sha256 (identity.ts); null over plain HTTP. */
  certificateFingerprint: string | null;
}
export type ContactAnswer = Pick<ContainerInstanceRow, 'status' | 'desiredVersion'>;

/** A merged report to write if the task is still at the version the merge read. */
export interface TaskPatchWrite {
  row: TaskRow;
  patch: TaskPatch;
  now: Date;
}

const patchColumnNames = TASK_PATCH_COLUMNS.map((key) => tasks[key].name);

const groupedDesiredRows = groupedLookup(desiredRowsQuery, (row) => row.instanceId);

/** The instance's rows of desiredRowsQuery (a row with task null when it has none). */
export const desiredRows = (db: Db, instanceId: string): Promise<DesiredRow[]> =>
  groupedDesiredRows(db, [instanceId]);

const groupedContacts = groupedPer<Contact, ContactAnswer | undefined>(async (db, list) => {
  // The credential and certificate are compared in SQL, as a heartbeat's are (contactUpdate in
  // identity.ts). Both come back, so two claims on one instance in one group are told apart.
  const json = JSON.stringify(
    list.map((c) => ({ id: c.instanceId, credential_hash: c.secretHash, fp: c.certificateFingerprint })),
  );
  const rows = await db.execute<{
    id: string;
    credential_hash: string;
    fp: string | null;
    status: ContainerInstanceRow['status'];
    desired_version: number;
  }>(sql`
    with c as materialized (
      select c.* from json_to_recordset(${json}::json) as c(id uuid, credential_hash text, fp text)
      join ${containerInstances} as ci on ci.id = c.id and ci.credential_hash = c.credential_hash
      where ci.status <> 'INACTIVE'
        and (c.fp is null or ci.certificate_fingerprint = c.fp or ci.previous_certificate_fingerprint = c.fp)
      order by ci.id for update of ci)
    update ${containerInstances} as ci set last_heartbeat_at = now()
    from c where ci.id = c.id
    returning ci.id, c.credential_hash, c.fp, ci.status, ci.desired_version`);
  const byClaim = new Map(
    rows.map((r) => [
      `${r.id}/${r.credential_hash}/${r.fp}`,
      { status: r.status, desiredVersion: Number(r.desired_version) },
    ]),
  );
  return list.map((c) => byClaim.get(`${c.instanceId}/${c.secretHash}/${c.certificateFingerprint}`));
});

/**
 * Records a contact if the credential matches an instance that is not INACTIVE; undefined when it
 * does not (the caller finds out why).
 */
export const recordContact = (db: Db, contact: Contact): Promise<ContactAnswer | undefined> =>
  groupedContacts(db).call(contact);

const patchAssignments = sql.join(
  patchColumnNames.map((name) => sql`${sql.identifier(name)} = p.${sql.identifier(name)}`),
  sql`, `,
);

const groupedTaskPatches = groupedPer<TaskPatchWrite, boolean>(async (db, list) => {
  // Two reports of one task in one group: the first goes, the second is told another writer came
  // first and merges again onto the row as written (an update joined to two rows applies one).
  const seen = new Set<string>();
  const first = list.map((w) => {
    if (seen.has(w.row.id)) return false;
    seen.add(w.row.id);
    return true;
  });
  // As insertRowsAsJson does: one JSON parameter that Postgres reads as the table's row type.
  const json = JSON.stringify(
    list
      .filter((_, i) => first[i])
      .map((w) => {
        const values: Record<string, unknown> = { id: w.row.id, version: w.row.version, updated_at: w.now };
        TASK_PATCH_COLUMNS.forEach((key, i) => {
          values[patchColumnNames[i] as string] = w.patch[key];
        });
        return values;
      }),
  );
  const rows = await db.execute<{ id: string }>(sql`
    with p as materialized (
      select p.* from json_populate_recordset(null::${tasks}, ${json}::json) as p
      join ${tasks} as t on t.id = p.id order by t.id for update of t)
    update ${tasks} as t set ${patchAssignments}, version = p.version + 1, updated_at = p.updated_at
    from p where t.id = p.id and t.version = p.version
    returning t.id`);
  const written = new Set(rows.map((r) => r.id));
  return list.map((w, i) => first[i] === true && written.has(w.row.id));
});

/**
 * Writes a merged report if the task is still at the version the merge read (every writer of a task
 * bumps it): the task as written, or undefined when another writer came first.
 */
export async function writeTaskPatch(db: Db, write: TaskPatchWrite): Promise<TaskRow | undefined> {
  const written = await groupedTaskPatches(db).call(write);
  return written
    ? { ...write.row, ...write.patch, version: write.row.version + 1, updatedAt: write.now }
    : undefined;
}
