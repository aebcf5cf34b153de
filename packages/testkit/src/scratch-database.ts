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
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end();
    },
  };
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
