import { resolve } from 'node:path';
import { z } from 'zod';

const AgentConfigSchema = z.object({
  BOSUN_CONTROL_PLANE_URL: z.string().url().default('http://127.0.0.1:7700'),
  /** Needed only for the first start; afterwards the agent uses the credential it was given. */
  BOSUN_JOIN_TOKEN: z.string().optional(),
  BOSUN_AGENT_STATE_DIR: z.string().default('.bosun/agent'),
  /** MiB kept back for the host and Docker itself. */
  BOSUN_MEMORY_RESERVE_MIB: z.coerce.number().int().min(0).default(256),
  /** Ports tasks may never take, besides the agent's own. */
  BOSUN_RESERVED_PORTS: z.string().default('tcp:22'),
  /** A zone-like label for spread placement; defaults to the hostname. */
  BOSUN_ZONE: z.string().optional(),
  /** Extra attributes: `name=value,other=value2`. */
  BOSUN_ATTRIBUTES: z.string().default(''),
  /** Host address that dynamic and static port mappings bind to. */
  BOSUN_HOST_IP: z.string().default('0.0.0.0'),
  BOSUN_HOSTNAME: z.string().optional(),
  BOSUN_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
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
  };
}

function parseList(value: string, _name: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
