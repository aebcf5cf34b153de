import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';

/**
 * The repository's migrations/ folder: the nearest one above this module that holds drizzle's
 * journal. Searched for rather than a fixed relative path, because this code runs from its source
 * file (tsx) and from the bundle (apps/control-plane/dist/server.mjs, apps/control-plane/build.ts),
 * which sit at different depths.
 */
function findMigrationsDir(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'migrations/meta/_journal.json'))) return join(dir, 'migrations');
    if (dirname(dir) === dir) return join(from, 'migrations');
  }
}

export const MIGRATIONS_DIR = findMigrationsDir(dirname(fileURLToPath(import.meta.url)));

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
