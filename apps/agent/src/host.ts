import type { RegisterInstanceRequest } from '@bosun/model';
import type { AgentConfig } from './config.ts';

/** The few fields of Docker's `GET /info` that describe a host. */
export interface DockerInfo {
  NCPU: number;
  MemTotal: number;
  ServerVersion: string;
  OSType: string;
  Architecture: string;
  Name: string;
}

export const AGENT_VERSION = '0.1.0';

/**
 * What the agent registers: pure, so the rules (CPU units = cores × 1024, memory minus the reserve,
 * the agent's own attributes applied last so config cannot fake them) are tested as a table.
 */
export function describeHost(
  info: DockerInfo,
  config: Pick<AgentConfig, 'memoryReserveMiB' | 'reservedPorts' | 'zone' | 'attributes' | 'hostname'>,
): Omit<RegisterInstanceRequest, 'joinToken'> {
  const hostname = config.hostname ?? info.Name;
  const memoryMiB = Math.floor(info.MemTotal / (1024 * 1024)) - config.memoryReserveMiB;
  if (memoryMiB < 1) {
    throw new Error(
      `BOSUN_MEMORY_RESERVE_MIB (${config.memoryReserveMiB}) leaves no memory for tasks on a ${Math.floor(info.MemTotal / 1048576)} MiB host`,
    );
  }
  const own: Record<string, string> = {
    'bosun.os-type': info.OSType,
    'bosun.cpu-architecture': info.Architecture,
    'bosun.hostname': hostname,
    'bosun.zone': config.zone ?? hostname,
  };
  const attributes = new Map<string, string>();
  for (const a of config.attributes) attributes.set(a.name, a.value);
  for (const [name, value] of Object.entries(own)) attributes.set(name, value);
  return {
    hostname,
    cpu: info.NCPU * 1024,
    memory: memoryMiB,
    reservedPorts: [...new Set(config.reservedPorts)],
    attributes: [...attributes].map(([name, value]) => ({ name, value })),
    versionInfo: { agentVersion: AGENT_VERSION, dockerVersion: info.ServerVersion },
  };
}
