import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../../migrations', import.meta.url));

/** Arbitrary but fixed: every bosun process agrees on it, so only one migrates at a time. */
const MIGRATION_LOCK_ID = 0x626f73756e; // "bosun"

/**
 * Applies pending migrations. Safe when several control planes start at once: a session-level
 * advisory lock on a dedicated single connection serialises them, and drizzle skips what is applied.
 */
export async function applyMigrations(databaseUrl: string, migrationsFolder = MIGRATIONS_DIR): Promise<void> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
    try {
      await migrate(drizzle(sql), { migrationsFolder });
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}
