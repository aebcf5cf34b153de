import { randomBytes } from 'node:crypto';
import { ECSClient } from '@aws-sdk/client-ecs';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import type { AccessKey } from '../src/auth/access-keys.ts';
import { SecretBox } from '../src/auth/secret-box.ts';
import type { ControlPlaneRuntime } from '../src/context/runtime.ts';
import type { ControlPlaneSettings } from '../src/context/settings.ts';
import { startControlPlane as startProcess } from '../src/context/start.ts';
import type { Database } from '../src/db/client.ts';
import { applyMigrations } from '../src/db/migrate.ts';
import { QUEUE_CATALOG } from '../src/workers/queues.ts';

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
export async function createScratchDatabase(
  serverUrl = requireEnv('DATABASE_URL'),
): Promise<{ url: string; drop(): Promise<void> }> {
  const base = new URL(serverUrl);
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
  /** The scratch database's URL and the BullMQ prefix, so a second control plane can share both. */
  databaseUrl: string;
  queuePrefix: string;
  box: SecretBox;
  settings: ControlPlaneSettings;
  runtime: ControlPlaneRuntime;
  /** An SDK client signed with the admin key. */
  ecs: ECSClient;
  setClock(fn: () => Date): void;
  close(): Promise<void>;
}

/** Short waits so tests do not sit out production-length long-polls. */
export const TEST_SETTINGS: ControlPlaneSettings = {
  agentTimeoutMs: 10_000,
  heartbeatIntervalMs: 2_000,
  longPollMs: 3_000,
  placementWaitMs: 10_000,
  stoppedTaskRetentionMs: 3600_000,
  serviceSweepMs: 2_000,
};

/**
 * A real control plane on a random port, over a scratch database and the test Redis, with its
 * placement and housekeeping workers. With `shareWith`, a second process of the same install: same
 * database, same master key, same queues — only the HTTP listener, connections and workers are its own.
 */
export async function startControlPlane(
  options: {
    bodyLimitBytes?: number;
    settings?: Partial<ControlPlaneSettings>;
    shareWith?: TestControlPlane;
    /** false: no placement/housekeeping workers in this process (RunTask then waits in vain). */
    workers?: boolean;
  } = {},
): Promise<TestControlPlane> {
  const shared = options.shareWith;
  const scratch = shared ? undefined : await createScratchDatabase();
  const databaseUrl = shared?.databaseUrl ?? scratch?.url ?? '';
  if (scratch) await applyMigrations(databaseUrl);
  const box = shared?.box ?? new SecretBox(randomBytes(32).toString('hex'));
  // Per scratch database, so a job left in Redis by another test file never reaches this one.
  const queuePrefix = shared?.queuePrefix ?? `bosun_t_${randomBytes(6).toString('hex')}`;
  const settings = { ...TEST_SETTINGS, ...options.settings };
  let clock = () => new Date();
  const running = await startProcess({
    databaseUrl,
    databaseConnections: 5,
    redisUrl: requireEnv('REDIS_URL'),
    box,
    scope: { region: REGION, accountId: ACCOUNT },
    settings,
    queuePrefix,
    bodyLimitBytes: options.bodyLimitBytes ?? 1024 * 1024,
    logLevel: process.env.BOSUN_TEST_LOG_LEVEL ?? 'silent',
    listen: { host: '127.0.0.1', port: 0 },
    ...(options.workers === undefined ? {} : { workers: options.workers }),
    clock: () => clock(),
  });
  const { database, runtime } = running;
  const key = running.adminKey;
  const endpoint = running.address;
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
    databaseUrl,
    queuePrefix,
    box,
    settings,
    runtime,
    ecs,
    setClock(fn) {
      clock = fn;
    },
    async close() {
      ecs.destroy();
      await running.close();
      // The first process of an install owns its queues: leave nothing behind in the test Redis.
      if (!shared) {
        const redis = new Redis(requireEnv('REDIS_URL'), { maxRetriesPerRequest: null });
        for (const q of Object.values(QUEUE_CATALOG)) {
          const queue = new Queue(q.name, { connection: redis, prefix: queuePrefix });
          await queue.obliterate({ force: true });
          await queue.close();
        }
        redis.disconnect();
      }
      await scratch?.drop();
    },
  };
}
