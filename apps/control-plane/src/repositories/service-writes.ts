import { eq } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { services } from '../db/schema/index.ts';
import type { ServiceRow } from './services.ts';

/** The service rows CreateService, UpdateService and DeleteService write. */

export type NewServiceRow = typeof services.$inferInsert;

export async function insertService(tx: Tx, values: NewServiceRow): Promise<ServiceRow> {
  const [row] = await tx.insert(services).values(values).returning();
  if (!row) throw new Error('insert returned no row');
  return row;
}

/**
 * The service locked `for update`: the services worker holds the same lock while it evaluates, so a
 * change made under it never interleaves with an evaluation.
 */
export async function lockService(tx: Tx, id: string): Promise<ServiceRow | undefined> {
  const [row] = await tx.select().from(services).where(eq(services.id, id)).for('update');
  return row;
}

export async function updateService(
  tx: Tx,
  id: string,
  changes: Partial<NewServiceRow>,
): Promise<ServiceRow | undefined> {
  const [row] = await tx.update(services).set(changes).where(eq(services.id, id)).returning();
  return row;
}
