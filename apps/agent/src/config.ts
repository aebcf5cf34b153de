import { resolve } from 'node:path';
import type { HostPolicy } from '@bosun/model/escapes';
// zod/mini, not zod: the same checks, but tree-shakable; the full zod would be ~570 kB of the ~850 kB
// agent bundle (apps/agent/build.ts) and ~3 MB of its RSS, for reading twenty variables once.
import { en } from 'zod/locales';
import * as z from 'zod/mini';

// The English messages, which full zod loads by default and zod/mini leaves out (only English: z.locales
// would bring in all fifty languages).
z.config(en());

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().check(z.int(), z.minimum(min), z.maximum(max));
const num = (min: number, max = Number.MAX_VALUE) => z.coerce.number().check(z.minimum(min), z.maximum(max));

const flag = z.enum(['0', '1']);

const AgentConfigSchema = z.object({
  /** https:// (the CA is pinned through the join token); http:// only for a BOSUN_TLS=off control plane. */
  BOSUN_CONTROL_PLANE_URL: z._default(z.url(), 'https://127.0.0.1:7700'),
  /** Needed only for the first start; afterwards the agent uses the credential it was given. */
  BOSUN_JOIN_TOKEN: z.optional(z.string()),
  BOSUN_AGENT_STATE_DIR: z._default(z.string(), '.bosun/agent'),
  /** MiB kept back for the host and Docker itself. */
  BOSUN_MEMORY_RESERVE_MIB: z._default(int(0), 256),
  /** Ports tasks may never take, besides the agent's own. */
  BOSUN_RESERVED_PORTS: z._default(z.string(), 'tcp:22'),
  /** A zone-like label for spread placement; defaults to the hostname. */
  BOSUN_ZONE: z.optional(z.string()),
  /** Extra attributes: `name=value,other=value2`. */
  BOSUN_ATTRIBUTES: z._default(z.string(), ''),
  /** Host address that dynamic and static port mappings bind to. */
  BOSUN_HOST_IP: z._default(z.string(), '0.0.0.0'),
  BOSUN_HOSTNAME: z.optional(z.string()),
  /** Image of the awsvpc network container that holds a task's namespace; it must have `sleep`. */
  BOSUN_NETWORK_IMAGE: z._default(z.string().check(z.minLength(1)), 'bosun/busybox:latest'),
  /** A pull that shows no progress for this long fails (ECS's image pull inactivity timeout). */
  BOSUN_IMAGE_PULL_TIMEOUT_SECONDS: z._default(int(1), 60),
  BOSUN_LOG_LEVEL: z._default(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'info'),
  /** ECS_IMAGE_PULL_BEHAVIOR: default (pull, fall back to cache), always, once, prefer-cached. */
  BOSUN_IMAGE_PULL_BEHAVIOR: z._default(z.enum(['default', 'always', 'once', 'prefer-cached']), 'default'),
  /** stopTimeout for containers that set none: SIGTERM, wait this long, SIGKILL (ECS on EC2: 30). */
  BOSUN_CONTAINER_STOP_TIMEOUT_SECONDS: z._default(int(0, 3600), 30),
  /** How long a stopped task's containers stay on the host (for `docker logs`) before removal. */
  BOSUN_TASK_CLEANUP_DELAY_SECONDS: z._default(num(0), 600),
  /** Docker is listed again this often even when its event stream is quiet. */
  BOSUN_RELIST_INTERVAL_SECONDS: z._default(num(0.1, 600), 5),
  BOSUN_LONG_POLL_SECONDS: z._default(num(1, 120), 20),
  /** Fault-suite hook: exit hard between creating a container and recording it. Never set in production. */
  BOSUN_AGENT_CRASH_AFTER_CREATE: z._default(z.enum(['0', '1']), '0'),
  /** Test hook: hold each full container scan's list this long before using it (a slow scan). */
  BOSUN_AGENT_TEST_SCAN_DELAY_MS: z._default(num(0, 60_000), 0),
  /** Stop all tasks after this long without the control plane; 0 = never (the default). */
  BOSUN_STOP_TASKS_AFTER_DISCONNECT_SECONDS: z._default(num(0), 0),
  /** Serve GET /health on 127.0.0.1 at this port; 0 = off (health.json is written either way). */
  BOSUN_AGENT_HEALTH_PORT: z._default(int(0, 65535), 0),
  // Host policy (refusedEscapes in @bosun/model/escapes): what tasks may reach on this host. All off.
  BOSUN_ALLOW_PRIVILEGED: z._default(flag, '0'),
  /** Host paths tasks may bind (each with everything under it), comma-separated; empty = none. */
  BOSUN_ALLOWED_HOST_PATHS: z._default(z.string(), ''),
  /** Capabilities beyond Docker's default set tasks may add, comma-separated; `ALL` = any. */
  BOSUN_ALLOWED_CAPABILITIES: z._default(z.string(), ''),
  /** Host pid, ipc and network namespaces (pidMode/ipcMode/networkMode host). */
  BOSUN_ALLOW_HOST_NAMESPACES: z._default(flag, '0'),
  /** `local` volume driver options that bind or mount a device (o=bind, type=none, device=…). */
  BOSUN_ALLOW_VOLUME_DRIVER_OPTIONS: z._default(flag, '0'),
  /** Shared named volumes bosun did not create (without the bosun.managed label). */
  BOSUN_ALLOW_SHARED_VOLUMES: z._default(flag, '0'),
});

export interface AgentConfig {
  controlPlaneUrl: string;
  joinToken: string | undefined;
  stateDir: string;
  memoryReserveMiB: number;
  reservedPorts: string[];
  zone: string | undefined;
  attributes: { name: string; value: string }[];
  hostIp: string;
  hostname: string | undefined;
  logLevel: string;
  /** Image of the awsvpc network container (needs `sleep`). */
  networkImage: string;
  /** Pull inactivity timeout. */
  imagePullTimeoutSeconds: number;
  imagePullBehavior: 'default' | 'always' | 'once' | 'prefer-cached';
  defaultStopTimeoutSeconds: number;
  cleanupDelayMs: number;
  relistIntervalMs: number;
  longPollSeconds: number;
  crashAfterCreate: boolean;
  scanDelayMs: number;
  stopTasksAfterDisconnectMs: number;
  /** 0 = no health endpoint. */
  healthPort: number;
  /** What tasks may reach on this host; refused escapes end the task TaskFailedToStart. */
  hostPolicy: HostPolicy;
}

export function loadAgentConfig(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const parsed = AgentConfigSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(
      `Invalid agent configuration:\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`,
    );
  }
  const c = parsed.data;
  return {
    controlPlaneUrl: c.BOSUN_CONTROL_PLANE_URL.replace(/\/+$/, ''),
    joinToken: c.BOSUN_JOIN_TOKEN || undefined,
    stateDir: resolve(c.BOSUN_AGENT_STATE_DIR),
    memoryReserveMiB: c.BOSUN_MEMORY_RESERVE_MIB,
    reservedPorts: parseList(c.BOSUN_RESERVED_PORTS, 'BOSUN_RESERVED_PORTS').map((p) => {
      if (!/^(tcp|udp):\d{1,5}$/.test(p)) throw new Error(`BOSUN_RESERVED_PORTS: '${p}' is not like tcp:22`);
      return p;
    }),
    zone: c.BOSUN_ZONE || undefined,
    attributes: parseList(c.BOSUN_ATTRIBUTES, 'BOSUN_ATTRIBUTES').map((pair) => {
      const idx = pair.indexOf('=');
      if (idx <= 0) throw new Error(`BOSUN_ATTRIBUTES: '${pair}' is not name=value`);
      return { name: pair.slice(0, idx), value: pair.slice(idx + 1) };
    }),
    hostIp: c.BOSUN_HOST_IP,
    hostname: c.BOSUN_HOSTNAME || undefined,
    logLevel: c.BOSUN_LOG_LEVEL,
    networkImage: c.BOSUN_NETWORK_IMAGE,
    imagePullTimeoutSeconds: c.BOSUN_IMAGE_PULL_TIMEOUT_SECONDS,
    imagePullBehavior: c.BOSUN_IMAGE_PULL_BEHAVIOR,
    defaultStopTimeoutSeconds: c.BOSUN_CONTAINER_STOP_TIMEOUT_SECONDS,
    cleanupDelayMs: c.BOSUN_TASK_CLEANUP_DELAY_SECONDS * 1000,
    relistIntervalMs: c.BOSUN_RELIST_INTERVAL_SECONDS * 1000,
    longPollSeconds: c.BOSUN_LONG_POLL_SECONDS,
    crashAfterCreate: c.BOSUN_AGENT_CRASH_AFTER_CREATE === '1',
    scanDelayMs: c.BOSUN_AGENT_TEST_SCAN_DELAY_MS,
    stopTasksAfterDisconnectMs: c.BOSUN_STOP_TASKS_AFTER_DISCONNECT_SECONDS * 1000,
    healthPort: c.BOSUN_AGENT_HEALTH_PORT,
    hostPolicy: {
      allowPrivileged: c.BOSUN_ALLOW_PRIVILEGED === '1',
      allowedHostPaths: parseList(c.BOSUN_ALLOWED_HOST_PATHS, 'BOSUN_ALLOWED_HOST_PATHS').map((p) => {
        if (!p.startsWith('/')) throw new Error(`BOSUN_ALLOWED_HOST_PATHS: '${p}' is not an absolute path`);
        return p;
      }),
      allowedCapabilities: parseList(c.BOSUN_ALLOWED_CAPABILITIES, 'BOSUN_ALLOWED_CAPABILITIES'),
      allowHostNamespaces: c.BOSUN_ALLOW_HOST_NAMESPACES === '1',
      allowVolumeDriverOptions: c.BOSUN_ALLOW_VOLUME_DRIVER_OPTIONS === '1',
      allowSharedVolumes: c.BOSUN_ALLOW_SHARED_VOLUMES === '1',
    },
  };
}

function parseList(value: string, _name: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
