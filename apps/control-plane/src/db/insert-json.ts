import { getTableColumns, sql } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { Tx } from './client.ts';

/**
 * Inserts many rows in one statement with one parameter: the rows as a JSON array that Postgres turns
 * into the table's row type (`json_populate_recordset`). drizzle's multi-row insert has a placeholder
 * per cell — some 30 columns × 200 tasks for a placement batch — and building that statement took
 * ~12 ms of the event loop per batch, after which Postgres parsed a new statement for every batch
 * size. This one's text depends on the columns only, so it is prepared once.
 *
 * Values go as JSON.stringify writes them: Dates as ISO 8601, jsonb columns as the objects they hold,
 * arrays as JSON arrays. A column no row has a key for takes its default; a row without a key (or with
 * undefined) that another row has gets NULL there, not the default as drizzle's insert would give.
 */
export async function insertRowsAsJson<T extends PgTable>(
  tx: Tx,
  table: T,
  rows: readonly T['$inferInsert'][],
): Promise<void> {
  if (rows.length === 0) return;
  const columns = getTableColumns(table);
  // Every key of every row: taking the first row's alone would drop a value only later rows have.
  const keys = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const names = keys.map((key) => {
    const column = columns[key];
    if (column === undefined) throw new Error(`insertRowsAsJson: no column ${key}`);
    return column.name;
  });
  const json = JSON.stringify(
    rows.map((row) =>
      Object.fromEntries(keys.map((key, i) => [names[i], (row as Record<string, unknown>)[key] ?? null])),
    ),
  );
  const list = sql.join(
    names.map((name) => sql.identifier(name)),
    sql`, `,
  );
  await tx.execute(
    sql`insert into ${table} (${list}) select ${list} from json_populate_recordset(null::${table}, ${json}::json)`,
  );
}
