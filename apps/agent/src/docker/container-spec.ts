import type { ContainerDefinition, DesiredTask, TaskDefinitionSpec, Volume } from '@bosun/model';
// Functions from @bosun/model's subpaths, types from its index: a value imported from the index would
// load every zod schema of the package (task definitions, agent protocol), which the agent never runs.
import { clusterNameFromRef, parseTaskDefinitionRef } from '@bosun/model/arn';
import { parseTaskSize } from '@bosun/model/task-size';
import type { ContainerCreateOptions, HostConfig, MountSettings, VolumeCreateOptions } from 'dockerode';
import type { CreateContext } from './types.ts';

/**
 * Pure translation of an ECS container definition into Docker's create request. Everything the
 * controller needs to find its containers again (names, labels) is derived here, so it is the one
 * place that decides them.
 */

export const LABEL = {
  managed: 'bosun.managed',
  instanceId: 'bosun.instance-id',
  taskId: 'bosun.task-id',
  containerName: 'bosun.container-name',
  taskArn: 'bosun.task-arn',
  clusterArn: 'bosun.cluster-arn',
  /** `network` on the awsvpc namespace holder, so it is never mistaken for a task container. */
  role: 'bosun.role',
  /** `8080/tcp,53/udp`: awsvpc containers may not expose ports themselves, their namespace holder does. */
  ports: 'bosun.ports',
  /** `task` or `shared` on volumes bosun created. */
  volumeScope: 'bosun.volume-scope',
  ecsTaskArn: 'com.amazonaws.ecs.task-arn',
  ecsContainerName: 'com.amazonaws.ecs.container-name',
  ecsFamily: 'com.amazonaws.ecs.task-definition-family',
  ecsVersion: 'com.amazonaws.ecs.task-definition-version',
  ecsCluster: 'com.amazonaws.ecs.cluster',
} as const;

export const NETWORK_ROLE = 'network';

/**
 * Keeps the namespace alive for the task's lifetime; `sleep` is in every busybox-style image. Set as
 * entrypoint + cmd so an image's own ENTRYPOINT or CMD cannot change what runs.
 */
export const NETWORK_CONTAINER_ENTRYPOINT = ['sleep'];
export const NETWORK_CONTAINER_CMD = ['2147483647'];

/** ECS's default on EC2 when the definition names no stopTimeout. */
export const DEFAULT_STOP_TIMEOUT_SECONDS = 30;

/** The kernel refuses fewer shares; ECS raises cpu 0 (and 1) to this. */
const MIN_CPU_SHARES = 2;

const MIB = 1024 * 1024;
const NANOS_PER_SECOND = 1_000_000_000;

export function containerName(taskId: string, name: string): string {
  return `bosun-${taskId}-${name}`;
}

export function networkContainerName(taskId: string): string {
  return `bosun-${taskId}-network`;
}

export function taskVolumeName(taskId: string, volume: string): string {
  return `bosun-${taskId}-${volume}`;
}

export interface ContainerSpec {
  name: string;
  options: ContainerCreateOptions;
}

export function buildContainerSpec(
  task: DesiredTask,
  container: ContainerDefinition,
  ctx: CreateContext,
): ContainerSpec {
  const spec = task.taskDefinition;
  const name = containerName(task.taskId, container.name);
  const hostConfig: HostConfig = {
    ...resources(spec, container),
    ...network(task, container, ctx),
    ...storage(task, container),
    ...security(spec, container),
    LogConfig: logConfig(container),
    RestartPolicy: { Name: 'no' },
  };
  const options: ContainerCreateOptions = {
    Image: container.image,
    Labels: containerLabels(task, container, ctx),
    Env: container.environment.map((e) => `${e.name}=${e.value}`),
    Healthcheck: healthcheck(container),
    StopTimeout: container.stopTimeout ?? DEFAULT_STOP_TIMEOUT_SECONDS,
    HostConfig: hostConfig,
    ...processConfig(container),
    ...exposedPorts(spec, container),
  };
  if (container.hostname && (spec.networkMode === 'bridge' || spec.networkMode === 'none')) {
    options.Hostname = container.hostname;
  }
  return { name, options };
}

/** The system labels every bosun object of a task carries; applied after user labels. */
export function systemLabels(task: DesiredTask, ctx: CreateContext): Record<string, string> {
  const ref = parseTaskDefinitionRef(task.taskDefinitionArn);
  const labels: Record<string, string> = {
    [LABEL.managed]: 'true',
    [LABEL.instanceId]: ctx.instanceId,
    [LABEL.taskId]: task.taskId,
    [LABEL.taskArn]: task.taskArn,
    [LABEL.clusterArn]: task.clusterArn,
    [LABEL.ecsTaskArn]: task.taskArn,
    [LABEL.ecsFamily]: ref?.family ?? task.taskDefinition.family,
    [LABEL.ecsCluster]: clusterNameFromRef(task.clusterArn) ?? task.clusterArn,
  };
  if (ref?.revision !== undefined) labels[LABEL.ecsVersion] = String(ref.revision);
  return labels;
}

function containerLabels(
  task: DesiredTask,
  container: ContainerDefinition,
  ctx: CreateContext,
): Record<string, string> {
  const labels: Record<string, string> = {
    ...container.dockerLabels,
    ...systemLabels(task, ctx),
    [LABEL.containerName]: container.name,
    [LABEL.ecsContainerName]: container.name,
  };
  if (task.taskDefinition.networkMode === 'awsvpc') {
    labels[LABEL.ports] = container.portMappings.map((p) => `${p.containerPort}/${p.protocol}`).join(',');
  } else {
    // A user label must not make a bridge container look like it publishes through a namespace holder.
    delete labels[LABEL.ports];
  }
  delete labels[LABEL.role];
  return labels;
}

function processConfig(container: ContainerDefinition): Partial<ContainerCreateOptions> {
  return {
    Entrypoint: container.entryPoint,
    Cmd: container.command,
    WorkingDir: container.workingDirectory,
    User: container.user,
    OpenStdin: container.interactive,
    Tty: container.pseudoTerminal,
  };
}

function resources(spec: TaskDefinitionSpec, container: ContainerDefinition): HostConfig {
  const taskCpu = spec.cpu === undefined ? undefined : parseTaskSize(spec.cpu, 'cpu');
  return {
    CpuShares: Math.max(container.cpu, MIN_CPU_SHARES),
    // Each container is capped at the whole task's CPU: Docker has no task-level cgroup to share.
    NanoCpus: taskCpu ? Math.round((taskCpu / 1024) * NANOS_PER_SECOND) : undefined,
    Memory: container.memory === undefined ? undefined : container.memory * MIB,
    MemoryReservation:
      container.memoryReservation === undefined ? undefined : container.memoryReservation * MIB,
    Ulimits: container.ulimits?.map((u) => ({ Name: u.name, Soft: u.softLimit, Hard: u.hardLimit })),
  };
}

function healthcheck(container: ContainerDefinition): ContainerCreateOptions['Healthcheck'] {
  const hc = container.healthCheck;
  // ECS ignores an image's HEALTHCHECK unless the task definition asks for one.
  if (!hc) return { Test: ['NONE'] };
  return {
    Test: hc.command,
    Interval: hc.interval * NANOS_PER_SECOND,
    Timeout: hc.timeout * NANOS_PER_SECOND,
    Retries: hc.retries,
    StartPeriod: hc.startPeriod === undefined ? undefined : hc.startPeriod * NANOS_PER_SECOND,
  };
}

function logConfig(container: ContainerDefinition): NonNullable<HostConfig['LogConfig']> {
  const lc = container.logConfiguration;
  return { Type: lc?.logDriver ?? 'json-file', Config: lc?.options ?? {} };
}

// --- Network ---------------------------------------------------------------------------------------

function portKey(p: { containerPort: number; protocol: string }): string {
  return `${p.containerPort}/${p.protocol}`;
}

function exposedPorts(
  spec: TaskDefinitionSpec,
  container: ContainerDefinition,
): Partial<ContainerCreateOptions> {
  // Docker refuses exposed ports on a container that joins another's namespace.
  if (spec.networkMode === 'awsvpc' || spec.networkMode === 'none' || container.portMappings.length === 0) {
    return {};
  }
  return { ExposedPorts: Object.fromEntries(container.portMappings.map((p) => [portKey(p), {}])) };
}

function network(task: DesiredTask, container: ContainerDefinition, ctx: CreateContext): HostConfig {
  const mode = task.taskDefinition.networkMode;
  if (mode === 'awsvpc') {
    // Ports, DNS and extra hosts belong to the namespace holder; Docker rejects them here.
    return { NetworkMode: `container:${networkContainerName(task.taskId)}` };
  }
  return {
    NetworkMode: mode,
    PortBindings: mode === 'bridge' ? bridgePortBindings(container, ctx) : undefined,
    Dns: container.dnsServers,
    ExtraHosts: extraHosts(container),
    Links: mode === 'bridge' ? links(task.taskId, container) : undefined,
  };
}

type PortBindings = Record<string, { HostIp: string; HostPort: string }[]>;

function bridgePortBindings(container: ContainerDefinition, ctx: CreateContext): PortBindings | undefined {
  if (container.portMappings.length === 0) return undefined;
  return Object.fromEntries(
    container.portMappings.map((p) => [
      portKey(p),
      // An empty HostPort makes Docker choose a free ephemeral port (ECS's dynamic mapping).
      [{ HostIp: ctx.hostIp, HostPort: p.hostPort ? String(p.hostPort) : '' }],
    ]),
  );
}

function extraHosts(container: ContainerDefinition): string[] | undefined {
  return container.extraHosts?.map((h) => `${h.hostname}:${h.ipAddress}`);
}

function links(taskId: string, container: ContainerDefinition): string[] | undefined {
  return container.links?.map((link) => {
    const [target = link, alias] = link.split(':');
    return `${containerName(taskId, target)}:${alias ?? target}`;
  });
}

/**
 * The awsvpc namespace holder: it owns the task's network namespace, so every published port, DNS
 * server and extra host of all the task's containers is set here. Ports publish hostPort =
 * containerPort, as placement books them for awsvpc.
 */
export function buildNetworkContainerSpec(
  task: DesiredTask,
  ctx: CreateContext,
  image: string,
): ContainerSpec {
  const containers = task.taskDefinition.containerDefinitions;
  const mappings = containers.flatMap((c) => c.portMappings);
  const dns = unique(containers.flatMap((c) => c.dnsServers ?? []));
  const hosts = unique(containers.flatMap((c) => extraHosts(c) ?? []));
  const options: ContainerCreateOptions = {
    Image: image,
    Entrypoint: NETWORK_CONTAINER_ENTRYPOINT,
    Cmd: NETWORK_CONTAINER_CMD,
    Labels: { ...systemLabels(task, ctx), [LABEL.role]: NETWORK_ROLE },
    Healthcheck: { Test: ['NONE'] },
    ExposedPorts: mappings.length > 0 ? Object.fromEntries(mappings.map((p) => [portKey(p), {}])) : undefined,
    HostConfig: {
      NetworkMode: 'bridge',
      PortBindings:
        mappings.length > 0
          ? Object.fromEntries(
              mappings.map((p) => [portKey(p), [{ HostIp: ctx.hostIp, HostPort: String(p.containerPort) }]]),
            )
          : undefined,
      Dns: dns.length > 0 ? dns : undefined,
      ExtraHosts: hosts.length > 0 ? hosts : undefined,
      RestartPolicy: { Name: 'no' },
      LogConfig: { Type: 'json-file', Config: {} },
    },
  };
  return { name: networkContainerName(task.taskId), options };
}

// --- Storage ---------------------------------------------------------------------------------------

/** A Docker volume that must exist before the container is created. */
export interface VolumeRequirement {
  /** Create it (labelled) when missing; false for a shared volume without autoprovision. */
  create: boolean;
  scope: 'task' | 'shared';
  options: VolumeCreateOptions & { Name: string };
}

type MountSource =
  | { kind: 'bind'; path: string }
  | { kind: 'volume'; name: string; scope: 'task' | 'shared' };

function mountSource(taskId: string, volume: Volume): MountSource {
  if (volume.host?.sourcePath) return { kind: 'bind', path: volume.host.sourcePath };
  if (volume.dockerVolumeConfiguration?.scope === 'shared') {
    return { kind: 'volume', name: volume.name, scope: 'shared' };
  }
  // `host: {}`, a task-scoped docker volume, or a volume with neither: Docker-managed, dies with the task.
  return { kind: 'volume', name: taskVolumeName(taskId, volume.name), scope: 'task' };
}

function findVolume(spec: TaskDefinitionSpec, name: string): Volume {
  const volume = spec.volumes.find((v) => v.name === name);
  // Registration rejects a mount of an undeclared volume; an empty `host` keeps the mapping total.
  return volume ?? { name, host: {} };
}

/**
 * Mounts through Docker's Mounts API, never `Binds` strings: a structured source cannot smuggle a
 * second path or option in through a `:` (`/:/host:rw`), and Docker checks that a bind's source
 * exists instead of silently creating it. Which host paths may be bound at all is the host policy's
 * call (`refusedEscapes`), made before anything is created.
 */
function storage(task: DesiredTask, container: ContainerDefinition): HostConfig {
  const spec = task.taskDefinition;
  const mounts: MountSettings[] = container.mountPoints.map((m) => {
    const source = mountSource(task.taskId, findVolume(spec, m.sourceVolume));
    return source.kind === 'bind'
      ? { Type: 'bind', Source: source.path, Target: m.containerPath, ReadOnly: m.readOnly }
      : { Type: 'volume', Source: source.name, Target: m.containerPath, ReadOnly: m.readOnly };
  });
  const volumesFrom = container.volumesFrom.map(
    (v) => `${containerName(task.taskId, v.sourceContainer)}${v.readOnly ? ':ro' : ''}`,
  );
  const tmpfs = container.linuxParameters?.tmpfs;
  return {
    Mounts: mounts.length > 0 ? mounts : undefined,
    VolumesFrom: volumesFrom.length > 0 ? volumesFrom : undefined,
    Tmpfs: tmpfs
      ? Object.fromEntries(
          tmpfs.map((t) => [t.containerPath, [`size=${t.size}m`, ...(t.mountOptions ?? [])].join(',')]),
        )
      : undefined,
  };
}

/** The Docker volumes this container mounts, task-scoped ones labelled so removeTaskResources finds them. */
export function volumeRequirements(
  task: DesiredTask,
  container: ContainerDefinition,
  ctx: CreateContext,
): VolumeRequirement[] {
  const spec = task.taskDefinition;
  const seen = new Set<string>();
  const out: VolumeRequirement[] = [];
  for (const m of container.mountPoints) {
    const volume = findVolume(spec, m.sourceVolume);
    const source = mountSource(task.taskId, volume);
    if (source.kind === 'bind' || seen.has(source.name)) continue;
    seen.add(source.name);
    const config = volume.dockerVolumeConfiguration;
    const own =
      source.scope === 'task'
        ? systemLabels(task, ctx)
        : { [LABEL.managed]: 'true', [LABEL.instanceId]: ctx.instanceId };
    out.push({
      create: source.scope === 'task' || config?.autoprovision === true,
      scope: source.scope,
      options: {
        Name: source.name,
        Driver: config?.driver,
        DriverOpts: config?.driverOpts,
        Labels: { ...config?.labels, ...own, [LABEL.volumeScope]: source.scope },
      },
    });
  }
  return out;
}

// --- Security --------------------------------------------------------------------------------------

function security(spec: TaskDefinitionSpec, container: ContainerDefinition): HostConfig {
  const lp = container.linuxParameters;
  return {
    CapAdd: lp?.capabilities?.add,
    CapDrop: lp?.capabilities?.drop,
    Init: lp?.initProcessEnabled,
    ShmSize: lp?.sharedMemorySize === undefined ? undefined : lp.sharedMemorySize * MIB,
    Privileged: container.privileged,
    ReadonlyRootfs: container.readonlyRootFilesystem,
    // 'task' needs a shared namespace holder outside awsvpc; bosun supports only 'host' (and ipc 'none').
    PidMode: spec.pidMode === 'host' ? 'host' : undefined,
    IpcMode: spec.ipcMode === 'host' || spec.ipcMode === 'none' ? spec.ipcMode : undefined,
  };
}

// --- Helpers ---------------------------------------------------------------------------------------

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
