import { Redis } from 'ioredis';
import { pino } from 'pino';
import { AccessKeyStore, ensureAdminKey } from './auth/access-keys.ts';
import { SecretBox } from './auth/secret-box.ts';
import { createRuntime } from './context/runtime.ts';
import { loadConfig } from './context/settings.ts';
import { loadMasterKey, writeClientEnv } from './context/state-dir.ts';
import { connectDatabase } from './db/client.ts';
import { applyMigrations } from './db/migrate.ts';
import { buildApp } from './http/app.ts';
import { ensureDefaultCluster } from './repositories/bootstrap.ts';
import { startWorkers } from './workers/index.ts';

/**
 * Start-up: config → migrations → keys → Redis runtime (queues, subscriber) → workers → app → listen;
 * shutdown closes in reverse.
 */
async function main() {
  const config = loadConfig();
  await applyMigrations(config.databaseUrl);
  const database = connectDatabase(config.databaseUrl);
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null, lazyConnect: false });
  const box = new SecretBox(await loadMasterKey(config.stateDir, config.masterKeyHex));
  const adminKey = await ensureAdminKey(database.db, box);
  await ensureDefaultCluster(database.db);
  const log = pino({ level: config.logLevel });
  const runtime = await createRuntime(redis, { queuePrefix: config.queuePrefix, log });
  const scope = { region: config.region, accountId: config.accountId };
  const settings = {
    agentTimeoutMs: config.agentTimeoutMs,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    longPollMs: config.longPollMs,
    placementWaitMs: config.placementWaitMs,
    stoppedTaskRetentionMs: config.stoppedTaskRetentionMs,
    serviceSweepMs: config.serviceSweepMs,
  };
  const workers = await startWorkers({
    db: database.db,
    redis,
    queues: runtime.queues,
    notifier: runtime.notifier,
    scope,
    settings,
    clock: () => new Date(),
    log: log.child({ component: 'workers' }),
  });

  const app = buildApp({
    database,
    redis,
    keys: new AccessKeyStore(database.db, box),
    secretBox: box,
    scope,
    bodyLimitBytes: config.bodyLimitBytes,
    settings,
    runtime,
    logLevel: config.logLevel,
  });
  const address = await app.listen({ host: config.listenHost, port: config.port });
  const endpoint = config.publicUrl ?? address.replace('0.0.0.0', '127.0.0.1');
  const envFile = await writeClientEnv(config.stateDir, adminKey, { region: config.region, endpoint });
  app.log.info({ endpoint, envFile, accessKeyId: adminKey.accessKeyId }, 'bosun control plane ready');

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    await app.close();
    await workers.close();
    await runtime.close();
    redis.disconnect();
    await database.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
