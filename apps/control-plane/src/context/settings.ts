import { resolve } from 'node:path';
import { z } from 'zod';

/** How long housekeeping keeps what nobody acts on any more (BOSUN_*_RETENTION_SECONDS). */
export interface RetentionSettings {
  /** STOPPED tasks, from their stoppedAt (ECS: about an hour). */
  stoppedTaskMs: number;
  /** Service events, by their time (DescribeServices also shows at most the last 100). */
  serviceEventMs: number;
  /** Deregistered (INACTIVE) container instances, from their deregistration. */
  inactiveInstanceMs: number;
  /** Placement request records (RunTask/StartTask and their clientToken), from the call. */
  requestMs: number;
  /** Audit events (mutating and refused API calls), by their time. */
  auditEventMs: number;
}

export const DEFAULT_RETENTION: RetentionSettings = {
  stoppedTaskMs: 3600_000,
  serviceEventMs: 7 * 24 * 3600_000,
  inactiveInstanceMs: 3600_000,
  requestMs: 24 * 3600_000,
  auditEventMs: 90 * 24 * 3600_000,
};

/** Seconds from the environment, at least `min`, at most ten years (still a valid interval). */
const retentionSeconds = (min: number, defaultMs: number) =>
  z.coerce
    .number()
    .min(min)
    .max(10 * 365 * 24 * 3600)
    .default(defaultMs / 1000);

/**
 * Bounded waits on the dependencies, so no API call hangs on a slow or absent Postgres or Redis: a
 * statement, a wait for a row lock, a transaction left idle, and a command to Redis from the API's
 * side (queue adds, wake-ups; the workers wait out an outage). 0 turns a Postgres one off.
 */
const DependencyTimeoutsSchema = z.object({
  BOSUN_DB_STATEMENT_TIMEOUT_SECONDS: z.coerce.number().min(0).max(3600).default(30),
  BOSUN_DB_LOCK_TIMEOUT_SECONDS: z.coerce.number().min(0).max(3600).default(10),
  BOSUN_DB_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS: z.coerce.number().min(0).max(3600).default(60),
  BOSUN_REDIS_COMMAND_TIMEOUT_SECONDS: z.coerce.number().min(0.1).max(600).default(2),
});

export interface DependencyTimeouts {
  /** Postgres' statement_timeout of every connection (0: none). */
  statementTimeoutMs: number;
  /** Postgres' lock_timeout: the longest wait for a lock (0: none). */
  lockTimeoutMs: number;
  /** Postgres' idle_in_transaction_session_timeout (0: none). */
  idleInTransactionTimeoutMs: number;
  /** The longest wait for Redis of a queue add or a wake-up made by an API call. */
  redisCommandTimeoutMs: number;
}

function dependencyTimeoutsOf(c: z.output<typeof DependencyTimeoutsSchema>): DependencyTimeouts {
  return {
    statementTimeoutMs: c.BOSUN_DB_STATEMENT_TIMEOUT_SECONDS * 1000,
    lockTimeoutMs: c.BOSUN_DB_LOCK_TIMEOUT_SECONDS * 1000,
    idleInTransactionTimeoutMs: c.BOSUN_DB_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS * 1000,
    redisCommandTimeoutMs: c.BOSUN_REDIS_COMMAND_TIMEOUT_SECONDS * 1000,
  };
}

/** The defaults, for a process started without a configuration (the tests). */
export const DEFAULT_DEPENDENCY_TIMEOUTS: DependencyTimeouts = dependencyTimeoutsOf(
  DependencyTimeoutsSchema.parse({}),
);

/** Everything the control plane reads from its environment, validated once at start-up. */
const ConfigSchema = z.object({
  ...DependencyTimeoutsSchema.shape,
  DATABASE_URL: z.string().min(1, 'DATABASE_URL is required (postgres://user:pass@host:port/db)'),
  REDIS_URL: z.string().min(1, 'REDIS_URL is required (redis://host:port)'),
  BOSUN_LISTEN_HOST: z.string().default('127.0.0.1'),
  BOSUN_PORT: z.coerce.number().int().min(0).max(65535).default(7700),
  /** The URL clients use; written into .bosun/env. Defaults to https://LISTEN_HOST:PORT. */
  BOSUN_PUBLIC_URL: z.string().url().optional(),
  BOSUN_STATE_DIR: z.string().default('.bosun'),
  /** 64 hex chars; when unset the key lives in STATE_DIR/master.key. */
  BOSUN_MASTER_KEY: z
    .string()
    .regex(/^[0-9a-f]{64}$/i, 'BOSUN_MASTER_KEY must be 64 hex characters')
    .optional(),
  BOSUN_REGION: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/, 'BOSUN_REGION must be lowercase letters, digits and hyphens')
    .default('local'),
  BOSUN_ACCOUNT_ID: z
    .string()
    .regex(/^[0-9]{12}$/, 'BOSUN_ACCOUNT_ID must be 12 digits')
    .default('000000000000'),
  BOSUN_BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024),
  BOSUN_AGENT_TIMEOUT_SECONDS: z.coerce.number().min(1).max(3600).default(10),
  BOSUN_HEARTBEAT_INTERVAL_SECONDS: z.coerce.number().min(0.2).max(600).default(2),
  /** How long an agent's GET /agent/v1/desired waits for a change. */
  BOSUN_LONG_POLL_SECONDS: z.coerce.number().min(0.1).max(300).default(20),
  /** How long RunTask waits for the placement worker. */
  BOSUN_PLACEMENT_TIMEOUT_SECONDS: z.coerce.number().min(0.5).max(300).default(15),
  // Retention (workers/housekeeping.ts): how long records nobody acts on any more stay before the
  // housekeeping job removes them, so the tables stay bounded over months of churn. Ages are compared
  // with Postgres' now(); see apps/control-plane/README.md, "Retention".
  /** STOPPED tasks stay visible this long after they stopped (ECS: about an hour). */
  BOSUN_STOPPED_TASK_RETENTION_SECONDS: retentionSeconds(60, DEFAULT_RETENTION.stoppedTaskMs),
  /** Service events older than this are forgotten (on top of the last-100-per-service bound). */
  BOSUN_SERVICE_EVENT_RETENTION_SECONDS: retentionSeconds(60, DEFAULT_RETENTION.serviceEventMs),
  /** Deregistered (INACTIVE) container instances stay describable this long, and until no task names them. */
  BOSUN_INACTIVE_INSTANCE_RETENTION_SECONDS: retentionSeconds(60, DEFAULT_RETENTION.inactiveInstanceMs),
  /**
   * RunTask/StartTask request records (and so their clientToken's idempotency) live this long, and
   * until no task names them. At least 15 minutes: a caller still waiting must find its outcome.
   */
  BOSUN_REQUEST_RETENTION_SECONDS: retentionSeconds(900, DEFAULT_RETENTION.requestMs),
  /** The audit log keeps who did what this long (default 90 days). */
  BOSUN_AUDIT_RETENTION_SECONDS: retentionSeconds(3600, DEFAULT_RETENTION.auditEventMs),
  /** Every ACTIVE/DRAINING service is evaluated at least this often (heals lost jobs, notices lost agents). */
  BOSUN_SERVICE_SWEEP_SECONDS: z.coerce.number().min(0.5).max(3600).default(5),
  /** Namespaces BullMQ's keys; every process of one install needs the same value. */
  BOSUN_QUEUE_PREFIX: z
    .string()
    .regex(/^[a-zA-Z0-9_-]{1,64}$/)
    .default('bosun'),
  /**
   * Shifts this process's own clock (tests of a clock step on one control plane; never needed in
   * production). Liveness and the workers' decisions read Postgres' now(), so a step here moves only
   * the timestamps this process writes itself and SigV4's window.
   */
  BOSUN_CLOCK_OFFSET_SECONDS: z.coerce.number().min(-86_400).max(86_400).default(0),
  BOSUN_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * Attribute names a joining host may not declare (only PutAttributes sets them), comma-separated;
   * `name.*` reserves a prefix. Names read by a live service's memberOf constraint are reserved anyway.
   */
  BOSUN_RESERVED_ATTRIBUTES: z.string().default(''),
  // TLS (tls/state.ts): on by default, with a CA and server certificate made in the state directory.
  /** `off`: plain HTTP, accepted only on a loopback listen address (tlsRefusal). */
  BOSUN_TLS: z.enum(['on', 'off']).default('on'),
  /** The operator's own server certificate chain, key and issuing CA (PEM files): all three or none. */
  BOSUN_TLS_CERT: z.string().min(1).optional(),
  BOSUN_TLS_KEY: z.string().min(1).optional(),
  BOSUN_TLS_CA: z.string().min(1).optional(),
  /** More names (DNS or IP, comma-separated) for the generated server certificate. */
  BOSUN_TLS_NAMES: z.string().default(''),
  /** How long an agent's client certificate lives; agents renew at two thirds of it. */
  BOSUN_AGENT_CERT_LIFETIME_SECONDS: z.coerce
    .number()
    .int()
    .min(30)
    .max(5 * 365 * 24 * 3600)
    .default(30 * 24 * 3600),
});

/** Why plain HTTP may not be served on this address, or undefined when it may (loopback only). */
export function tlsRefusal(tls: 'on' | 'off', listenHost: string): string | undefined {
  if (tls === 'on') return undefined;
  const host = listenHost.replace(/^\[(.*)\]$/, '$1');
  if (host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host))
    return undefined;
  return (
    `BOSUN_TLS=off serves the API and the agent protocol in plain HTTP, which is only allowed on a ` +
    `loopback address; BOSUN_LISTEN_HOST is ${listenHost}. Listen on 127.0.0.1, or leave TLS on.`
  );
}

export interface Config extends ControlPlaneSettings {
  databaseUrl: string;
  redisUrl: string;
  listenHost: string;
  port: number;
  publicUrl: string | undefined;
  stateDir: string;
  masterKeyHex: string | undefined;
  region: string;
  accountId: string;
  bodyLimitBytes: number;
  queuePrefix: string;
  clockOffsetMs: number;
  logLevel: z.infer<typeof ConfigSchema>['BOSUN_LOG_LEVEL'];
  timeouts: DependencyTimeouts;
  tls: {
    enabled: boolean;
    certFile: string | undefined;
    keyFile: string | undefined;
    caFile: string | undefined;
    names: string[];
    agentCertLifetimeMs: number;
  };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const c = parsed.data;
  const refusal = tlsRefusal(c.BOSUN_TLS, c.BOSUN_LISTEN_HOST);
  if (refusal) throw new Error(`Invalid configuration:\n  BOSUN_TLS: ${refusal}`);
  return {
    databaseUrl: c.DATABASE_URL,
    redisUrl: c.REDIS_URL,
    listenHost: c.BOSUN_LISTEN_HOST,
    port: c.BOSUN_PORT,
    publicUrl: c.BOSUN_PUBLIC_URL,
    stateDir: resolve(c.BOSUN_STATE_DIR),
    masterKeyHex: c.BOSUN_MASTER_KEY,
    region: c.BOSUN_REGION,
    accountId: c.BOSUN_ACCOUNT_ID,
    bodyLimitBytes: c.BOSUN_BODY_LIMIT_BYTES,
    agentTimeoutMs: c.BOSUN_AGENT_TIMEOUT_SECONDS * 1000,
    heartbeatIntervalMs: c.BOSUN_HEARTBEAT_INTERVAL_SECONDS * 1000,
    longPollMs: c.BOSUN_LONG_POLL_SECONDS * 1000,
    placementWaitMs: c.BOSUN_PLACEMENT_TIMEOUT_SECONDS * 1000,
    retention: {
      stoppedTaskMs: c.BOSUN_STOPPED_TASK_RETENTION_SECONDS * 1000,
      serviceEventMs: c.BOSUN_SERVICE_EVENT_RETENTION_SECONDS * 1000,
      inactiveInstanceMs: c.BOSUN_INACTIVE_INSTANCE_RETENTION_SECONDS * 1000,
      requestMs: c.BOSUN_REQUEST_RETENTION_SECONDS * 1000,
      auditEventMs: c.BOSUN_AUDIT_RETENTION_SECONDS * 1000,
    },
    serviceSweepMs: c.BOSUN_SERVICE_SWEEP_SECONDS * 1000,
    queuePrefix: c.BOSUN_QUEUE_PREFIX,
    clockOffsetMs: c.BOSUN_CLOCK_OFFSET_SECONDS * 1000,
    logLevel: c.BOSUN_LOG_LEVEL,
    timeouts: dependencyTimeoutsOf(c),
    reservedAttributes: c.BOSUN_RESERVED_ATTRIBUTES.split(',')
      .map((n) => n.trim())
      .filter((n) => n !== ''),
    tls: {
      enabled: c.BOSUN_TLS === 'on',
      certFile: c.BOSUN_TLS_CERT,
      keyFile: c.BOSUN_TLS_KEY,
      caFile: c.BOSUN_TLS_CA,
      names: c.BOSUN_TLS_NAMES.split(',')
        .map((n) => n.trim())
        .filter(Boolean),
      agentCertLifetimeMs: c.BOSUN_AGENT_CERT_LIFETIME_SECONDS * 1000,
    },
  };
}

/** Tunables that decisions depend on, from config. */
export interface ControlPlaneSettings {
  /** An agent silent for longer than this is shown agentConnected: false. */
  agentTimeoutMs: number;
  /** How often agents are told to heartbeat. */
  heartbeatIntervalMs: number;
  /** How long `GET /agent/v1/desired` waits for a change before answering with the current state. */
  longPollMs: number;
  /** How long RunTask waits for the placement worker before giving up (and cancelling the request). */
  placementWaitMs: number;
  /** How long the housekeeping job keeps stopped tasks, events, deregistered hosts, requests. */
  retention: RetentionSettings;
  /** How often every ACTIVE/DRAINING service is queued for evaluation whatever happened. */
  serviceSweepMs: number;
  /** BOSUN_RESERVED_ATTRIBUTES: attribute names (or `prefix*`) a joining host may not declare. */
  reservedAttributes?: readonly string[];
}

/** The settings decisions depend on, from the process's configuration. */
export function settingsOf(config: Config): ControlPlaneSettings {
  return {
    agentTimeoutMs: config.agentTimeoutMs,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    longPollMs: config.longPollMs,
    placementWaitMs: config.placementWaitMs,
    retention: config.retention,
    serviceSweepMs: config.serviceSweepMs,
    reservedAttributes: config.reservedAttributes ?? [],
  };
}
