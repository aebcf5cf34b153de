/**
 * The control plane inside the test's own process. The only testkit file that imports the control
 * plane's internals (apps/control-plane/src): keep it that way, so a re-layout there is rewired here.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ECSClient } from '@aws-sdk/client-ecs';
import type { AccessKey } from '../../../apps/control-plane/src/auth/access-keys.ts';
import { SecretBox } from '../../../apps/control-plane/src/auth/secret-box.ts';
import type { DependencyHealth } from '../../../apps/control-plane/src/context/dependency-health.ts';
import type { ControlPlaneRuntime } from '../../../apps/control-plane/src/context/runtime.ts';
import {
  type ControlPlaneSettings,
  DEFAULT_RETENTION,
  type DependencyTimeouts,
} from '../../../apps/control-plane/src/context/settings.ts';
import { startControlPlane as startProcess } from '../../../apps/control-plane/src/context/start.ts';
import type { Database } from '../../../apps/control-plane/src/db/client.ts';
import { applyMigrations } from '../../../apps/control-plane/src/db/migrate.ts';
import { loadTls, type TlsMaterial } from '../../../apps/control-plane/src/tls/state.ts';
import { requireEnv } from './env.ts';
import { deleteQueueKeys, newQueuePrefix } from './queue-prefix.ts';
import { createScratchDatabase } from './scratch-database.ts';
import { ACCOUNT, REGION } from './sigv4.ts';
import { trustCa, trustingHttpsAgent } from './tls-trust.ts';

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
  health: DependencyHealth;
  /** An SDK client signed with the admin key. */
  ecs: ECSClient;
  /** The install's CA and server certificate (made in a scratch state directory, as on a first start). */
  tls: TlsMaterial;
  setClock(fn: () => Date): void;
  close(): Promise<void>;
}

/** Short waits so tests do not sit out production-length long-polls. */
export const TEST_SETTINGS: ControlPlaneSettings = {
  agentTimeoutMs: 10_000,
  heartbeatIntervalMs: 2_000,
  longPollMs: 3_000,
  placementWaitMs: 10_000,
  retention: DEFAULT_RETENTION,
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
    /** Bounded waits on Postgres and Redis (the defaults otherwise). */
    timeouts?: Partial<DependencyTimeouts>;
    /** Another Redis than the test Redis (REDIS_URL), e.g. one the test stops and starts. */
    redisUrl?: string;
    /** Capture the logs (at `logLevel`, default info) instead of silencing them. */
    logStream?: { write(line: string): void };
    logLevel?: string;
    /** The master key (64 hex); random otherwise. A test that works on the database as the CLI's --local does needs it. */
    masterKeyHex?: string;
    /** false: plain HTTP (BOSUN_TLS=off). */
    serveTls?: boolean;
    /** Lifetime of agents' client certificates (BOSUN_AGENT_CERT_LIFETIME_SECONDS); 30 days by default. */
    agentCertLifetimeMs?: number;
  } = {},
): Promise<TestControlPlane> {
  const shared = options.shareWith;
  const scratch = shared ? undefined : await createScratchDatabase();
  const databaseUrl = shared?.databaseUrl ?? scratch?.url ?? '';
  if (scratch) await applyMigrations(databaseUrl);
  const redisUrl = options.redisUrl ?? requireEnv('REDIS_URL');
  const box = shared?.box ?? new SecretBox(options.masterKeyHex ?? randomBytes(32).toString('hex'));
  // Per scratch database, so a job left in Redis by another test file never reaches this one.
  const queuePrefix = shared?.queuePrefix ?? newQueuePrefix();
  const settings = { ...TEST_SETTINGS, ...options.settings };
  let clock = () => new Date();
  // A second process of the install shares its CA, as it would share the state directory.
  const stateDir = shared ? undefined : mkdtempSync(join(tmpdir(), 'bosun-cp-tls-'));
  const material = shared?.tls ?? (await loadTls(stateDir ?? '', { names: ['localhost', '127.0.0.1'] }));
  trustCa(material.serverCaPem);
  // The same start-up as the server process (context/start.ts), with a settable clock.
  const running = await startProcess({
    databaseUrl,
    databaseConnections: 5,
    redisUrl,
    box,
    scope: { region: REGION, accountId: ACCOUNT },
    settings,
    queuePrefix,
    bodyLimitBytes: options.bodyLimitBytes ?? 1024 * 1024,
    logLevel:
      options.logLevel ?? (options.logStream ? 'info' : (process.env.BOSUN_TEST_LOG_LEVEL ?? 'silent')),
    ...(options.logStream === undefined ? {} : { logStream: options.logStream }),
    listen: { host: '127.0.0.1', port: 0 },
    ...(options.workers === undefined ? {} : { workers: options.workers }),
    ...(options.timeouts === undefined ? {} : { timeouts: options.timeouts }),
    clock: () => clock(),
    tls: {
      material,
      serve: options.serveTls ?? true,
      agentCertLifetimeMs: options.agentCertLifetimeMs ?? 30 * 24 * 3600_000,
    },
  });
  const { database, runtime, health, adminKey: key, address: endpoint } = running;
  const ecs = new ECSClient({
    endpoint,
    region: REGION,
    credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
    maxAttempts: 1,
    requestHandler: { httpsAgent: trustingHttpsAgent() },
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
    health,
    ecs,
    tls: material,
    setClock(fn) {
      clock = fn;
    },
    async close() {
      ecs.destroy();
      await running.close();
      // The first process of an install owns its queues: leave nothing behind in the test Redis.
      if (!shared) await deleteQueueKeys(redisUrl, queuePrefix);
      await scratch?.drop();
      if (stateDir) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
