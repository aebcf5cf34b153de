import { z } from 'zod';
import { MAX_EPOCH_MS, REPORT_LIMITS } from './report-limits.ts';

export { MAX_EPOCH_MS, REPORT_LIMITS };

/**
 * Messages between the agent and the control plane. The agent connects outbound only, so every
 * exchange is a request from the agent; one schema serves both ends.
 */

const attributeName = z
  .string()
  .regex(/^[a-zA-Z0-9_.:/-]{1,128}$/, 'attribute names: 1-128 of [A-Za-z0-9_.:/-]');
export const InstanceAttribute = z.object({
  name: attributeName,
  value: z.string().max(128).optional(),
});
export type InstanceAttribute = z.infer<typeof InstanceAttribute>;

export const HostPort = z.string().regex(/^(tcp|udp):\d{1,5}$/, "ports are written 'tcp:22' or 'udp:53'");

export const RegisterInstanceRequest = z.object({
  joinToken: z.string().min(20).max(200),
  hostname: z.string().min(1).max(255),
  /** CPU units: cores × 1024. */
  cpu: z.number().int().min(1),
  /** MiB available to tasks, after the configured reserve. */
  memory: z.number().int().min(1),
  reservedPorts: z.array(HostPort).max(200),
  attributes: z.array(InstanceAttribute).max(100),
  versionInfo: z.object({ agentVersion: z.string().max(64), dockerVersion: z.string().max(64) }),
  /**
   * The agent's public key (SubjectPublicKeyInfo, DER, base64; EC P-256) for its client certificate.
   * Required when the control plane serves TLS; the private key never leaves the host.
   */
  publicKey: z.string().max(1000).optional(),
});
export type RegisterInstanceRequest = z.infer<typeof RegisterInstanceRequest>;

export const RegisterInstanceResponse = z.object({
  containerInstanceArn: z.string(),
  containerInstanceId: z.string(),
  clusterArn: z.string(),
  /** `<instanceId>.<secret>`, sent as `Authorization: Bearer …` from now on. */
  credential: z.string(),
  heartbeatIntervalSeconds: z.number(),
  /** The client certificate (PEM) for `publicKey`, signed by the install's CA; absent over plain HTTP. */
  certificate: z.string().optional(),
});
export type RegisterInstanceResponse = z.infer<typeof RegisterInstanceResponse>;

/** A renewal: a new key pair's public key, sent with the current certificate (mTLS) and credential. */
export const RenewCertificateRequest = z.object({ publicKey: z.string().min(1).max(1000) });
export type RenewCertificateRequest = z.infer<typeof RenewCertificateRequest>;
export interface RenewCertificateResponse {
  certificate: string;
}

/** GET /agent/v1/ca: the CA the server's chain ends in, which a joining agent pins (join-token.ts). */
export interface CaCertificateResponse {
  caCertificate: string;
}

/** Sent on every heartbeat, so a host whose Docker or resources changed is described truthfully. */
export const HeartbeatRequest = z.object({
  hostname: z.string().min(1).max(255).optional(),
  versionInfo: z.object({ agentVersion: z.string().max(64), dockerVersion: z.string().max(64) }).optional(),
});
export type HeartbeatRequest = z.infer<typeof HeartbeatRequest>;

// --- Tasks: desired state down, observed state up --------------------------------------------------

import {
  CONTAINER_STATUSES,
  HEALTH_STATUSES,
  STOP_CODES,
  type TASK_DESIRED_STATUSES,
  TASK_LAST_STATUSES,
} from './status.ts';
import type { TaskDefinitionSpec } from './task-definition.ts';

/**
 * One task the control plane wants on this instance. `taskDefinition` is the stored revision with
 * RunTask's containerOverrides already applied, so the agent needs nothing else to build containers.
 * A task stays in the desired list until the agent has reported it STOPPED, so a stop is never missed.
 */
export interface DesiredTask {
  taskArn: string;
  /** 32 hex characters, the last part of the ARN. */
  taskId: string;
  clusterArn: string;
  taskDefinitionArn: string;
  desiredStatus: (typeof TASK_DESIRED_STATUSES)[number];
  taskDefinition: TaskDefinitionSpec;
  group: string;
  startedBy?: string;
  /** Set once desiredStatus is STOPPED: why, for the task's stopCode and stoppedReason. */
  stopCode?: (typeof STOP_CODES)[number];
  stoppedReason?: string;
  /**
   * Registry credentials for containers that name repositoryCredentials, resolved by the control plane:
   * container name → { username, password }. Sent only over the agent's authenticated channel.
   */
  registryAuth?: Record<string, { username: string; password: string }>;
}

/** `GET /agent/v1/desired?after=N`: answers at once when the version is past N, else waits (long-poll). */
export interface DesiredStateResponse {
  /** Monotonic per instance; bumped by every change to what the instance should run. */
  version: number;
  tasks: DesiredTask[];
}

export const NetworkBinding = z.object({
  bindIP: z.string().max(REPORT_LIMITS.bindIP),
  containerPort: z.number().int().min(0).max(65535),
  hostPort: z.number().int().min(0).max(65535),
  protocol: z.enum(['tcp', 'udp']),
});
export type NetworkBinding = z.infer<typeof NetworkBinding>;

const epochMs = z.number().int().min(0).max(MAX_EPOCH_MS);

export const ContainerStateReport = z.object({
  name: z.string().min(1).max(REPORT_LIMITS.containerName),
  lastStatus: z.enum(CONTAINER_STATUSES),
  /** Docker's container id once created. */
  runtimeId: z.string().max(REPORT_LIMITS.runtimeId).optional(),
  exitCode: z.number().int().optional(),
  reason: z.string().max(REPORT_LIMITS.reason).optional(),
  healthStatus: z.enum(HEALTH_STATUSES).optional(),
  networkBindings: z.array(NetworkBinding).max(REPORT_LIMITS.networkBindingsPerContainer).optional(),
  imageDigest: z.string().max(REPORT_LIMITS.imageDigest).optional(),
});
export type ContainerStateReport = z.infer<typeof ContainerStateReport>;

/** The agent's view of one task: sent whole each time (last status wins), so a lost report heals. */
export const TaskStateReport = z.object({
  taskId: z.string().regex(/^[0-9a-f]{32}$/),
  lastStatus: z.enum(TASK_LAST_STATUSES),
  containers: z.array(ContainerStateReport).max(REPORT_LIMITS.containersPerTask),
  healthStatus: z.enum(HEALTH_STATUSES).optional(),
  stopCode: z.enum(STOP_CODES).optional(),
  stoppedReason: z.string().max(REPORT_LIMITS.reason).optional(),
  /** Epoch milliseconds, as observed on the host. */
  pullStartedAt: epochMs.optional(),
  pullStoppedAt: epochMs.optional(),
  startedAt: epochMs.optional(),
  stoppingAt: epochMs.optional(),
  executionStoppedAt: epochMs.optional(),
  stoppedAt: epochMs.optional(),
});
export type TaskStateReport = z.infer<typeof TaskStateReport>;

/** `POST /agent/v1/report`: also counts as a heartbeat. */
export interface AgentReportRequest {
  tasks: TaskStateReport[];
}

/**
 * The envelope the control plane parses: each report in `tasks` is then validated on its own
 * (TaskStateReport), so one bad report is refused and the others are applied.
 */
export const AgentReportEnvelope = z.object({
  tasks: z.array(z.unknown()).max(REPORT_LIMITS.reportsPerRequest),
});

/** A report the control plane would not apply, and why; the agent must not send it again as it was. */
export interface RefusedReport {
  /** Its position in the request's `tasks`. */
  index: number;
  /** Its taskId when it had a readable one. */
  taskId?: string;
  reason: string;
}

export interface AgentReportResponse {
  /** The instance's desired version. */
  version: number;
  status: string;
  heartbeatIntervalSeconds: number;
  /** Reports about tasks that are not on the calling instance: ignored. */
  unknownTaskIds: string[];
  /** Reports that failed validation: not applied (the others were). */
  refused: RefusedReport[];
}
