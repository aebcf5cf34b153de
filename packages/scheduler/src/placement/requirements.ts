/**
 * What a task asks of an instance — CPU units, MiB and static host ports — computed once from its
 * task definition and then read by placement for every candidate instance.
 */

/** A static host port. Dynamic ports (hostPort 0 in bridge mode) are chosen by Docker and need no placement. */
export interface PortRequest {
  hostPort: number;
  protocol: 'tcp' | 'udp';
}

export interface TaskRequirements {
  /** CPU units reserved (task-level cpu, else the sum of the containers' cpu). */
  cpu: number;
  /** MiB reserved (task-level memory, else per container memoryReservation if set, else memory). */
  memory: number;
  ports: readonly PortRequest[];
  /** ECS task group, e.g. `family:web` or `service:web`. */
  group: string;
}

export interface ContainerReservation {
  cpu?: number;
  memory?: number;
  memoryReservation?: number;
  portMappings?: readonly { containerPort?: number; hostPort?: number; protocol?: 'tcp' | 'udp' }[];
}

export interface TaskReservationInput {
  /** Task-level values, already converted to CPU units and MiB. */
  cpu?: number;
  memory?: number;
  networkMode?: 'bridge' | 'host' | 'none' | 'awsvpc';
  containerDefinitions: readonly ContainerReservation[];
}

/**
 * What a task reserves on an instance. Apply RunTask containerOverrides to the definitions first.
 * Duplicate host ports are kept on purpose: such a task cannot start anywhere, and placement says so
 * instead of binding one port twice.
 */
export function taskRequirements(task: TaskReservationInput, group: string): TaskRequirements {
  let cpu = 0;
  let memory = 0;
  const ports: PortRequest[] = [];
  const mode = task.networkMode ?? 'bridge';
  for (const container of task.containerDefinitions) {
    cpu += container.cpu ?? 0;
    // The soft limit is what ECS reserves: a container may burst up to its hard limit when memory is free.
    memory += container.memoryReservation ?? container.memory ?? 0;
    // awsvpc and none give the task its own network namespace, so nothing is bound on the host.
    if (mode !== 'bridge' && mode !== 'host') continue;
    for (const mapping of container.portMappings ?? []) {
      const hostPort =
        mode === 'host' ? (mapping.hostPort ?? mapping.containerPort ?? 0) : (mapping.hostPort ?? 0);
      if (hostPort > 0) ports.push({ hostPort, protocol: mapping.protocol ?? 'tcp' });
    }
  }
  return { cpu: task.cpu ?? cpu, memory: task.memory ?? memory, ports, group };
}

/** `tcp:8080`: how a port is keyed in `usedPorts`. */
export const portKey = (port: PortRequest): string => `${port.protocol}:${port.hostPort}`;

/** `tcp:8080` → `8080/tcp`, the way Docker prints ports. */
export const showPort = (key: string): string => {
  const colon = key.indexOf(':');
  return `${key.slice(colon + 1)}/${key.slice(0, colon)}`;
};
