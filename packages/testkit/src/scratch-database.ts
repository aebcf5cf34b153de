import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { requireEnv } from './env.ts';

export interface ScratchDatabase {
  url: string;
  drop(): Promise<void>;
}

/**
 * A fresh, empty database on the server DATABASE_URL (or `serverUrl`) points at, dropped by drop().
 * Tests and benchmarks never touch the database named in DATABASE_URL itself, so pointing them at a
 * real install is safe. The name starts with `prefix` so a left-over one says who made it.
 */
export async function createScratchDatabase(
  o: { serverUrl?: string | undefined; prefix?: string } = {},
): Promise<ScratchDatabase> {
  const base = new URL(o.serverUrl ?? requireEnv('DATABASE_URL'));
  const name = `${o.prefix ?? 'bosun_t'}_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = postgres(base.toString(), { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      try {
        await dropDatabase(admin, name);
      } finally {
        await admin.end();
      }
    },
  };
}

/**
 * Drops `name`, ending its sessions. FORCE needs the right to signal every session in it, which the
 * non-superuser role scripts/up makes lacks for an autovacuum worker (a test that deletes many rows
 * wakes one). The fallback ends our own sessions, then a plain DROP DATABASE, which stops autovacuum
 * itself, retried while the worker winds down.
 */
async function dropDatabase(admin: postgres.Sql, name: string): Promise<void> {
  try {
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    return;
  } catch (err) {
    if ((err as { code?: string }).code !== '42501') throw err;
  }
  for (let attempt = 1; ; attempt++) {
    try {
      await admin`select pg_terminate_backend(pid) from pg_stat_activity
        where datname = ${name} and usename = current_user and pid <> pg_backend_pid()`;
      await admin.unsafe(`drop database if exists "${name}"`);
      return;
    } catch (err) {
      // 55006: object_in_use, the worker has not gone yet.
      if ((err as { code?: string }).code !== '55006' || attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/**
 * One query on its own short-lived connection (the fault suite reads the tasks table around outages,
 * when a pooled connection would have died with the server); its rows.
 */
export async function queryOnce<T extends Record<string, unknown>>(
  url: string,
  text: string,
  params: (string | number)[] = [],
): Promise<T[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    return (await sql.unsafe(text, params)) as unknown as T[];
  } finally {
    await sql.end({ timeout: 5 });
  }
}
