import { z } from 'zod';
import { ClientError, UnsupportedFeatureError } from './errors.ts';
import { parseTags, Tag, type TagPair } from './tags.ts';
import { parseTaskSize } from './task-size.ts';

/**
 * Task definitions: the zod shapes validate a RegisterTaskDefinition request field by field (ranges,
 * types, names), and `parseRegisterTaskDefinition` applies the rules across fields that ECS reports
 * as ClientException (memory vs. reservation, dependsOn, ports per network mode, volumes). The
 * result, a `TaskDefinitionSpec`, is normalized (defaults filled in) and immutable once stored; the
 * agent reads the same type to build containers.
 */

const resourceName = z
  .string()
  .regex(
    /^[a-zA-Z0-9_-]{1,255}$/,
    'up to 255 letters (uppercase and lowercase), numbers, underscores and hyphens',
  );

const port = z.number().int().min(0).max(65535);
const wholeSeconds = (min: number, max: number) => z.number().int().min(min).max(max);

export const NETWORK_MODES = ['bridge', 'host', 'awsvpc', 'none'] as const;
export type NetworkMode = (typeof NETWORK_MODES)[number];

export const PortMapping = z.object({
  containerPort: z.number().int().min(1).max(65535),
  /** 0 or absent in bridge mode: a dynamic host port chosen at placement. */
  hostPort: port.optional(),
  protocol: z.enum(['tcp', 'udp']).default('tcp'),
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'lowercase letters, numbers and hyphens, up to 64')
    .optional(),
});
export type PortMapping = z.output<typeof PortMapping>;

export const HealthCheck = z.object({
  command: z
    .array(z.string().max(4096))
    .min(2)
    .max(100)
    .refine((c) => c[0] === 'CMD' || c[0] === 'CMD-SHELL', "the first element must be 'CMD' or 'CMD-SHELL'"),
  interval: wholeSeconds(5, 300).default(30),
  timeout: wholeSeconds(2, 60).default(5),
  retries: z.number().int().min(1).max(10).default(3),
  startPeriod: wholeSeconds(0, 300).optional(),
});
export type HealthCheck = z.output<typeof HealthCheck>;

export const DEPENDENCY_CONDITIONS = ['START', 'COMPLETE', 'SUCCESS', 'HEALTHY'] as const;
export type DependencyCondition = (typeof DEPENDENCY_CONDITIONS)[number];
export const ContainerDependency = z.object({
  containerName: resourceName,
  condition: z.enum(DEPENDENCY_CONDITIONS),
});

export const ULIMIT_NAMES = [
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
] as const;
export const Ulimit = z
  .object({
    name: z.enum(ULIMIT_NAMES),
    softLimit: z.number().int().min(-1),
    hardLimit: z.number().int().min(-1),
  })
  .refine((u) => u.hardLimit === -1 || (u.softLimit !== -1 && u.softLimit <= u.hardLimit), {
    message: 'softLimit must not exceed hardLimit',
  });

const absolutePath = z.string().min(1).max(4096).startsWith('/', 'must be an absolute path');

export const MountPoint = z.object({
  sourceVolume: resourceName,
  containerPath: absolutePath,
  readOnly: z.boolean().default(false),
});
export const VolumeFrom = z.object({ sourceContainer: resourceName, readOnly: z.boolean().default(false) });

export const LOG_DRIVERS = [
  'json-file',
  'local',
  'syslog',
  'journald',
  'gelf',
  'fluentd',
  'splunk',
  'awslogs',
  'none',
] as const;
export const LogConfiguration = z.object({
  logDriver: z.enum(LOG_DRIVERS),
  options: z.record(z.string().max(256), z.string().max(4096)).optional(),
});

const KeyValue = z.object({ name: z.string().min(1).max(4096), value: z.string().max(32768).default('') });

export const RestartPolicy = z.object({
  enabled: z.boolean(),
  ignoredExitCodes: z.array(z.number().int()).max(50).optional(),
  restartAttemptPeriod: wholeSeconds(60, 1800).optional(),
});

export const LinuxParameters = z.object({
  capabilities: z
    .object({
      add: z.array(z.string().max(64)).max(64).optional(),
      drop: z.array(z.string().max(64)).max(64).optional(),
    })
    .optional(),
  initProcessEnabled: z.boolean().optional(),
  sharedMemorySize: z.number().int().min(1).optional(),
  tmpfs: z
    .array(
      z.object({
        containerPath: absolutePath,
        size: z.number().int().min(1),
        mountOptions: z.array(z.string()).optional(),
      }),
    )
    .max(32)
    .optional(),
});

const memoryMiB = z
  .number()
  .int()
  .min(6, 'at least 6 MiB')
  .max(1024 * 1024);

export const ContainerDefinitionInput = z.object({
  name: resourceName,
  image: z
    .string()
    .min(1)
    .max(255)
    .regex(
      /^[a-zA-Z0-9][a-zA-Z0-9._\-/:@]*$/,
      'letters, numbers, hyphens, underscores, colons, periods, slashes and @',
    ),
  repositoryCredentials: z.object({ credentialsParameter: z.string().min(1).max(2048) }).optional(),
  cpu: z.number().int().min(0).max(10240).default(0),
  memory: memoryMiB.optional(),
  memoryReservation: memoryMiB.optional(),
  portMappings: z.array(PortMapping).max(100).default([]),
  essential: z.boolean().default(true),
  entryPoint: z.array(z.string().max(32768)).max(100).optional(),
  command: z.array(z.string().max(32768)).max(100).optional(),
  // No count limit of its own: the 64 KiB size rule bounds it, as in ECS.
  environment: z.array(KeyValue).default([]),
  secrets: z
    .array(z.object({ name: z.string().min(1), valueFrom: z.string().min(1) }))
    .max(100)
    .optional(),
  healthCheck: HealthCheck.optional(),
  dependsOn: z.array(ContainerDependency).max(10).optional(),
  startTimeout: wholeSeconds(2, 600).optional(),
  stopTimeout: wholeSeconds(2, 120).optional(),
  workingDirectory: absolutePath.optional(),
  user: z.string().min(1).max(255).optional(),
  hostname: z.string().min(1).max(255).optional(),
  ulimits: z.array(Ulimit).max(20).optional(),
  mountPoints: z.array(MountPoint).max(100).default([]),
  volumesFrom: z.array(VolumeFrom).max(10).default([]),
  links: z.array(z.string().max(255)).max(20).optional(),
  dockerLabels: z.record(z.string().min(1).max(255), z.string().max(4096)).optional(),
  logConfiguration: LogConfiguration.optional(),
  linuxParameters: LinuxParameters.optional(),
  privileged: z.boolean().optional(),
  readonlyRootFilesystem: z.boolean().optional(),
  extraHosts: z
    .array(z.object({ hostname: z.string().min(1).max(255), ipAddress: z.string().min(1).max(64) }))
    .max(50)
    .optional(),
  dnsServers: z.array(z.string().max(64)).max(10).optional(),
  restartPolicy: RestartPolicy.optional(),
  interactive: z.boolean().optional(),
  pseudoTerminal: z.boolean().optional(),
});
export type ContainerDefinition = z.output<typeof ContainerDefinitionInput>;

export const Volume = z.object({
  name: resourceName,
  host: z.object({ sourcePath: absolutePath.optional() }).optional(),
  dockerVolumeConfiguration: z
    .object({
      scope: z.enum(['task', 'shared']).default('task'),
      autoprovision: z.boolean().optional(),
      driver: z.string().max(255).optional(),
      driverOpts: z.record(z.string(), z.string()).optional(),
      labels: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
});
export type Volume = z.output<typeof Volume>;

export const PlacementConstraintInput = z.object({
  type: z.literal('memberOf'),
  expression: z.string().min(1).max(2000),
});

/** Task-level cpu/memory are strings in ECS: "512", "1 vCPU", "2 GB". */
const taskSize = z
  .string()
  .regex(/^\s*\d+(\.\d+)?\s*([a-zA-Z]+)?\s*$/, "a number, optionally with a unit ('1 vCPU', '2 GB')");

export const RegisterTaskDefinitionInput = z.object({
  family: resourceName,
  containerDefinitions: z.array(ContainerDefinitionInput).min(1).max(10),
  networkMode: z.enum(NETWORK_MODES).default('bridge'),
  volumes: z.array(Volume).max(50).default([]),
  placementConstraints: z.array(PlacementConstraintInput).max(10).default([]),
  requiresCompatibilities: z
    .array(z.enum(['EC2', 'EXTERNAL', 'FARGATE']))
    .max(3)
    .optional(),
  cpu: taskSize.optional(),
  memory: taskSize.optional(),
  taskRoleArn: z.string().max(2048).optional(),
  executionRoleArn: z.string().max(2048).optional(),
  pidMode: z.enum(['host', 'task']).optional(),
  ipcMode: z.enum(['host', 'task', 'none']).optional(),
  tags: z.array(Tag).max(50).optional(),
});
export type RegisterTaskDefinitionInput = z.output<typeof RegisterTaskDefinitionInput>;

export type TaskDefinitionSpec = Omit<RegisterTaskDefinitionInput, 'tags' | 'cpu' | 'memory'> & {
  cpu?: string;
  memory?: string;
};

/** ECS refuses task definitions larger than 64 KiB. */
export const MAX_TASK_DEFINITION_BYTES = 64 * 1024;

export function parseRegisterTaskDefinition(input: RegisterTaskDefinitionInput): {
  spec: TaskDefinitionSpec;
  tags: TagPair[];
} {
  const { tags: rawTags, ...spec } = input;
  const tags = parseTags(rawTags ?? []);
  checkTaskDefinition(spec);
  const size = Buffer.byteLength(JSON.stringify(spec), 'utf8');
  if (size > MAX_TASK_DEFINITION_BYTES) {
    throw new ClientError(
      `Task definition is ${size} bytes; the limit is ${MAX_TASK_DEFINITION_BYTES} bytes (64 KiB).`,
    );
  }
  return { spec, tags };
}

/** The cross-field rules, each failing with the ClientException wording ECS uses. */
export function checkTaskDefinition(spec: TaskDefinitionSpec): void {
  if (spec.requiresCompatibilities?.includes('FARGATE')) {
    throw new UnsupportedFeatureError(
      'FARGATE is an AWS launch type; bosun runs tasks on EC2/EXTERNAL-style Docker hosts.',
    );
  }
  const taskMemory = spec.memory === undefined ? undefined : parseTaskSize(spec.memory, 'memory');
  if (spec.memory !== undefined && taskMemory === undefined) {
    throw new ClientError(`Invalid 'memory' setting for task: '${spec.memory}'.`);
  }
  if (spec.cpu !== undefined && parseTaskSize(spec.cpu, 'cpu') === undefined) {
    throw new ClientError(`Invalid 'cpu' setting for task: '${spec.cpu}'.`);
  }

  const byName = new Map<string, ContainerDefinition>();
  for (const c of spec.containerDefinitions) {
    if (byName.has(c.name))
      throw new ClientError(`Duplicate container name '${c.name}' in the task definition.`);
    byName.set(c.name, c);
  }
  if (!spec.containerDefinitions.some((c) => c.essential)) {
    throw new ClientError('A task definition must have at least one essential container.');
  }
  const volumeNames = new Set<string>();
  for (const v of spec.volumes) {
    if (volumeNames.has(v.name)) throw new ClientError(`Duplicate volume name '${v.name}'.`);
    if (v.host && v.dockerVolumeConfiguration) {
      throw new ClientError(`Volume '${v.name}' may set host or dockerVolumeConfiguration, not both.`);
    }
    volumeNames.add(v.name);
  }

  const hostPorts = new Set<string>();
  for (const c of spec.containerDefinitions) {
    const where = `Invalid setting for container '${c.name}'.`;
    if (c.memory === undefined && c.memoryReservation === undefined && taskMemory === undefined) {
      throw new ClientError(`${where} At least one of 'memory' or 'memoryReservation' must be specified.`);
    }
    if (c.memory !== undefined && c.memoryReservation !== undefined && c.memory <= c.memoryReservation) {
      throw new ClientError(
        `${where} The 'memory' setting must be greater than the 'memoryReservation' setting.`,
      );
    }
    for (const p of c.portMappings) {
      if (spec.networkMode === 'none')
        throw new ClientError(`${where} Port mappings are not allowed in networkMode 'none'.`);
      if (
        (spec.networkMode === 'host' || spec.networkMode === 'awsvpc') &&
        p.hostPort &&
        p.hostPort !== p.containerPort
      ) {
        throw new ClientError(
          `${where} In networkMode '${spec.networkMode}', hostPort must be omitted or equal to containerPort (${p.containerPort}).`,
        );
      }
      const effectiveHost = spec.networkMode === 'bridge' ? (p.hostPort ?? 0) : p.containerPort;
      if (effectiveHost !== 0) {
        const key = `${p.protocol}:${effectiveHost}`;
        if (hostPorts.has(key))
          throw new ClientError(
            `${where} Host port ${effectiveHost}/${p.protocol} is mapped more than once.`,
          );
        hostPorts.add(key);
      }
    }
    if (c.links && spec.networkMode !== 'bridge') {
      throw new ClientError(`${where} Links are only supported in networkMode 'bridge'.`);
    }
    if (c.hostname && spec.networkMode !== 'bridge') {
      throw new ClientError(`${where} The hostname parameter is only supported in networkMode 'bridge'.`);
    }
    for (const m of c.mountPoints) {
      if (!volumeNames.has(m.sourceVolume)) {
        throw new ClientError(
          `${where} mountPoints refers to volume '${m.sourceVolume}', which the task definition does not declare.`,
        );
      }
    }
    for (const v of c.volumesFrom) {
      if (v.sourceContainer === c.name || !byName.has(v.sourceContainer)) {
        throw new ClientError(
          `${where} volumesFrom refers to '${v.sourceContainer}', which is not another container of this task.`,
        );
      }
    }
    if (c.secrets && c.secrets.length > 0) {
      throw new UnsupportedFeatureError(
        `${where} 'secrets' needs AWS Secrets Manager or SSM, which bosun does not have; pass values in 'environment'.`,
      );
    }
    for (const d of c.dependsOn ?? []) {
      const target = byName.get(d.containerName);
      if (!target || d.containerName === c.name) {
        throw new ClientError(
          `${where} dependsOn refers to '${d.containerName}', which is not another container of this task.`,
        );
      }
      if ((d.condition === 'COMPLETE' || d.condition === 'SUCCESS') && target.essential) {
        throw new ClientError(
          `${where} Dependency condition ${d.condition} cannot be used on container '${d.containerName}' because it is essential.`,
        );
      }
      if (d.condition === 'HEALTHY' && !target.healthCheck) {
        throw new ClientError(
          `${where} Dependency condition HEALTHY needs a healthCheck on container '${d.containerName}'.`,
        );
      }
    }
  }
  const cycle = findDependencyCycle(spec.containerDefinitions);
  if (cycle) throw new ClientError(`Container dependencies form a cycle: ${cycle.join(' -> ')}.`);
}

/** A dependsOn cycle as the list of container names around it (first repeated last), or undefined. */
export function findDependencyCycle(
  containers: readonly { name: string; dependsOn?: readonly { containerName: string }[] | undefined }[],
): string[] | undefined {
  const edges = new Map(containers.map((c) => [c.name, (c.dependsOn ?? []).map((d) => d.containerName)]));
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'visiting') return [...path.slice(path.indexOf(name)), name];
    state.set(name, 'visiting');
    path.push(name);
    for (const next of edges.get(name) ?? []) {
      const found = visit(next);
      if (found) return found;
    }
    path.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const c of containers) {
    const found = visit(c.name);
    if (found) return found;
  }
  return undefined;
}
