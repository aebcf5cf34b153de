import type { ArnScope } from '@bosun/model';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { AccessKeyStore, type AdminKey, ensureAdminKey } from '../auth/access-keys.ts';
import type { SecretBox } from '../auth/secret-box.ts';
import { connectDatabase, type Database } from '../db/client.ts';
import { LOG_SERIALIZERS } from '../db/safe-error.ts';
import { buildApp } from '../http/app.ts';
import { ensureDefaultCluster } from '../repositories/bootstrap.ts';
import type { TlsMaterial } from '../tls/state.ts';
import { startWorkers } from '../workers/index.ts';
import { DependencyHealth } from './dependency-health.ts';
import { type ControlPlaneRuntime, createRuntime } from './runtime.ts';
import {
  type ControlPlaneSettings,
  DEFAULT_DEPENDENCY_TIMEOUTS,
  type DependencyTimeouts,
} from './settings.ts';

export interface StartOptions {
  /** Migrated already (db/migrate.ts): the first process of an install applies them. */
  databaseUrl: string;
  /** Postgres connections of this process. */
  databaseConnections?: number;
  redisUrl: string;
  box: SecretBox;
  scope: ArnScope;
  settings: ControlPlaneSettings;
  queuePrefix: string;
  bodyLimitBytes: number;
  logLevel: string;
  listen: { host: string; port: number };
  /** false: no workers in this process (its RunTasks then wait for another process's). */
  workers?: boolean;
  /** Injected in tests (signature expiry, time-dependent decisions). */
  clock?: () => Date;
  /** Where the logs go (stdout otherwise); tests capture them. */
  logStream?: { write(line: string): void };
  /** Bounded waits on Postgres and Redis (BOSUN_DB_*_TIMEOUT_SECONDS, BOSUN_REDIS_COMMAND_TIMEOUT_SECONDS). */
  timeouts?: Partial<DependencyTimeouts>;
  /**
   * The install's CA and server certificate (tls/state.ts). `serve: false` is BOSUN_TLS=off: plain
   * HTTP (on loopback only, settings.ts), while join tokens still carry the CA's fingerprint.
   */
  tls: { material: TlsMaterial; serve: boolean; agentCertLifetimeMs: number };
}

export interface RunningControlPlane {
  app: FastifyInstance;
  /** The address the listener got, e.g. https://127.0.0.1:7700. */
  address: string;
  database: Database;
  redis: Redis;
  runtime: ControlPlaneRuntime;
  health: DependencyHealth;
  /** The admin user's newest ACTIVE key, else its newest key (INACTIVE: then STATE_DIR/env is left alone). */
  adminKey: AdminKey;
  close(): Promise<void>;
}

/**
 * One control-plane process, as `server.ts` runs it and the tests start it in-process: database and
 * Redis connections → admin key (first start) and `default` cluster → Redis runtime (queues, one
 * subscriber) → workers → app → listen. `close` shuts down in reverse.
 */
export async function startControlPlane(o: StartOptions): Promise<RunningControlPlane> {
  const timeouts = { ...DEFAULT_DEPENDENCY_TIMEOUTS, ...o.timeouts };
  const database = connectDatabase(o.databaseUrl, {
    ...(o.databaseConnections === undefined ? {} : { max: o.databaseConnections }),
    statementTimeoutMs: timeouts.statementTimeoutMs,
    lockTimeoutMs: timeouts.lockTimeoutMs,
    idleInTransactionTimeoutMs: timeouts.idleInTransactionTimeoutMs,
  });
  // The workers' connection waits an outage out: BullMQ's blocking commands need that.
  const redis = new Redis(o.redisUrl, { maxRetriesPerRequest: null, lazyConnect: false });
  // An outage is reported by DependencyHealth (/readyz) and felt by each call; unheard, ioredis prints it.
  redis.on('error', () => {});
  // The API's side (queue adds, wake-ups, health pings) answers instead: a command fails at once
  // while Redis is unreachable, and after the command timeout when it hangs.
  const producer = new Redis(o.redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: timeouts.redisCommandTimeoutMs,
  });
  producer.on('error', () => {});
  const adminKey = await ensureAdminKey(database.db, o.box);
  await ensureDefaultCluster(database.db);
  const log =
    o.logStream === undefined
      ? pino({ level: o.logLevel, serializers: LOG_SERIALIZERS })
      : pino({ level: o.logLevel, serializers: LOG_SERIALIZERS }, o.logStream);
  const runtime = await createRuntime(redis, producer, {
    queuePrefix: o.queuePrefix,
    log,
    redisWaitMs: timeouts.redisCommandTimeoutMs,
  });
  // Redis answered the subscriber; the producer is up too before anything counts on it.
  if (producer.status !== 'ready') await new Promise((resolve) => producer.once('ready', resolve));
  const clock = o.clock ?? (() => new Date());
  const health = new DependencyHealth(database.sql, producer);
  health.start();
  const workers =
    o.workers === false
      ? undefined
      : await startWorkers({
          db: database.db,
          redis,
          queues: runtime.queues,
          notifier: runtime.notifier,
          scope: o.scope,
          settings: o.settings,
          clock,
          health,
          log: log.child({ component: 'workers' }),
        });
  const app = buildApp({
    database,
    redis: producer,
    health,
    ...(workers === undefined ? {} : { workers: workers.pulse }),
    keys: new AccessKeyStore(database.db, o.box),
    secretBox: o.box,
    scope: o.scope,
    bodyLimitBytes: o.bodyLimitBytes,
    settings: o.settings,
    runtime,
    logLevel: o.logLevel,
    ...(o.logStream === undefined ? {} : { logStream: o.logStream }),
    clock,
    tls: o.tls,
  });
  const address = await app.listen({ host: o.listen.host, port: o.listen.port });
  return {
    app,
    address,
    database,
    redis,
    runtime,
    health,
    adminKey,
    async close() {
      health.stop();
      await app.close();
      await workers?.close();
      await runtime.close();
      redis.disconnect();
      producer.disconnect();
      await database.close();
    },
  };
}
