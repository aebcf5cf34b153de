import { randomBytes } from 'node:crypto';
import { ECSClient } from '@aws-sdk/client-ecs';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { buildApp } from '../src/app.ts';
import { type AccessKey, AccessKeyStore, ensureAdminKey } from '../src/auth/access-keys.ts';
import { SecretBox } from '../src/auth/secret-box.ts';
import { connectDatabase, type Database } from '../src/db/client.ts';
import { applyMigrations } from '../src/db/migrate.ts';
import { ensureDefaultCluster } from '../src/repositories/bootstrap.ts';

export const REGION = 'local';
export const ACCOUNT = '000000000000';

function requireEnv(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} must be set (scripts/test sets it up)`);
  return v;
}

/**
 * A fresh, empty database on the server DATABASE_URL points at, dropped afterwards. Tests never
 * touch the database named in DATABASE_URL itself, so pointing them at a real install is safe.
 */
export async function createScratchDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = new URL(requireEnv('DATABASE_URL'));
  const name = `bosun_t_${process.pid}_${randomBytes(4).toString('hex')}`;
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

export interface TestControlPlane {
  endpoint: string;
  key: AccessKey;
  database: Database;
  /** An SDK client signed with the admin key. */
  ecs: ECSClient;
  setClock(fn: () => Date): void;
  close(): Promise<void>;
}

/** A real control plane on a random port, over a scratch database and the test Redis. */
export async function startControlPlane(
  options: { bodyLimitBytes?: number } = {},
): Promise<TestControlPlane> {
  const scratch = await createScratchDatabase();
  await applyMigrations(scratch.url);
  const database = connectDatabase(scratch.url, { max: 5 });
  const redis = new Redis(requireEnv('REDIS_URL'), { maxRetriesPerRequest: null });
  const box = new SecretBox(randomBytes(32).toString('hex'));
  const key = await ensureAdminKey(database.db, box);
  await ensureDefaultCluster(database.db);
  let clock = () => new Date();
  const app = buildApp({
    database,
    redis,
    keys: new AccessKeyStore(database.db, box),
    scope: { region: REGION, accountId: ACCOUNT },
    bodyLimitBytes: options.bodyLimitBytes ?? 1024 * 1024,
    settings: { agentTimeoutMs: 10_000, heartbeatIntervalMs: 2_000 },
    logLevel: 'silent',
    clock: () => clock(),
  });
  const endpoint = await app.listen({ host: '127.0.0.1', port: 0 });
  const ecs = new ECSClient({
    endpoint,
    region: REGION,
    credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
    maxAttempts: 1,
  });
  return {
    endpoint,
    key,
    database,
    ecs,
    setClock(fn) {
      clock = fn;
    },
    async close() {
      ecs.destroy();
      await app.close();
      redis.disconnect();
      await database.close();
      await scratch.drop();
    },
  };
}
