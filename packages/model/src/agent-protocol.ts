import { z } from 'zod';

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
});
export type RegisterInstanceRequest = z.infer<typeof RegisterInstanceRequest>;

export const RegisterInstanceResponse = z.object({
  containerInstanceArn: z.string(),
  containerInstanceId: z.string(),
  clusterArn: z.string(),
  /** `<instanceId>.<secret>`, sent as `Authorization: Bearer …` from now on. */
  credential: z.string(),
  heartbeatIntervalSeconds: z.number(),
});
export type RegisterInstanceResponse = z.infer<typeof RegisterInstanceResponse>;

/** Sent on every heartbeat, so a host whose Docker or resources changed is described truthfully. */
export const HeartbeatRequest = z.object({
  hostname: z.string().min(1).max(255).optional(),
  versionInfo: z.object({ agentVersion: z.string().max(64), dockerVersion: z.string().max(64) }).optional(),
});
export type HeartbeatRequest = z.infer<typeof HeartbeatRequest>;
