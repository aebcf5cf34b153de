import type { NetworkBinding } from '@bosun/model';
import type { ContainerInspectInfo } from 'dockerode';
import { LABEL } from './container-spec.ts';
import type { DockerState, ObservedContainer } from './types.ts';

/** The parts of `docker inspect` an ObservedContainer is made of. */
export type InspectedContainer = Pick<ContainerInspectInfo, 'Id' | 'Name' | 'Image'> & {
  State: Pick<
    ContainerInspectInfo['State'],
    'Status' | 'ExitCode' | 'OOMKilled' | 'Error' | 'StartedAt' | 'FinishedAt' | 'Health'
  >;
  Config: Pick<ContainerInspectInfo['Config'], 'Labels'>;
  HostConfig: Pick<ContainerInspectInfo['HostConfig'], 'NetworkMode'>;
  NetworkSettings: { Ports?: Record<string, { HostIp: string; HostPort: string }[] | null> | null };
};

const DOCKER_STATES = new Set<string>([
  'created',
  'running',
  'paused',
  'restarting',
  'removing',
  'exited',
  'dead',
]);
const HEALTH = new Set<string>(['starting', 'healthy', 'unhealthy']);

/**
 * `network` is the awsvpc namespace holder's inspect, whose published ports are the task's: a
 * container sharing a namespace has none of its own.
 */
export function toObservedContainer(
  info: InspectedContainer,
  network?: InspectedContainer,
): ObservedContainer {
  const labels = info.Config.Labels ?? {};
  const state = toDockerState(info.State.Status);
  const stopped = state === 'exited' || state === 'dead';
  const health = info.State.Health?.Status;
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    taskId: labels[LABEL.taskId] ?? '',
    containerName: labels[LABEL.containerName] ?? '',
    state,
    // Docker shows 0 before the first run; only a finished process has an exit code.
    exitCode: stopped ? info.State.ExitCode : undefined,
    oomKilled: info.State.OOMKilled,
    error: info.State.Error ? info.State.Error : undefined,
    startedAt: dockerTime(info.State.StartedAt),
    finishedAt: dockerTime(info.State.FinishedAt),
    health: health !== undefined && HEALTH.has(health) ? (health as ObservedContainer['health']) : undefined,
    networkBindings: networkBindings(info, network),
    imageId: info.Image,
  };
}

function toDockerState(status: string): DockerState {
  // Unknown future states are safest read as 'dead': not running, not to be started again.
  return DOCKER_STATES.has(status) ? (status as DockerState) : 'dead';
}

/** Epoch ms, or undefined for Docker's zero time (`0001-01-01T00:00:00Z`) and garbage. */
export function dockerTime(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

export function isSharedNamespace(info: InspectedContainer): boolean {
  return (info.HostConfig.NetworkMode ?? '').startsWith('container:');
}

function networkBindings(info: InspectedContainer, network?: InspectedContainer): NetworkBinding[] {
  if (!isSharedNamespace(info)) return bindingsOf(info.NetworkSettings.Ports);
  if (!network) return [];
  const own = new Set((info.Config.Labels?.[LABEL.ports] ?? '').split(',').filter((p) => p !== ''));
  return bindingsOf(network.NetworkSettings.Ports).filter((b) => own.has(`${b.containerPort}/${b.protocol}`));
}

function bindingsOf(ports: InspectedContainer['NetworkSettings']['Ports']): NetworkBinding[] {
  const out: NetworkBinding[] = [];
  for (const [key, bindings] of Object.entries(ports ?? {})) {
    const [port, protocol] = key.split('/');
    if (protocol !== 'tcp' && protocol !== 'udp') continue;
    for (const b of bindings ?? []) {
      const hostPort = Number(b.HostPort);
      if (!Number.isInteger(hostPort) || hostPort <= 0) continue;
      out.push({ bindIP: b.HostIp, containerPort: Number(port), hostPort, protocol });
    }
  }
  return out;
}
