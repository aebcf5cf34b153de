import type { ContainerInstanceStatus } from '@bosun/model';
import { sql } from 'drizzle-orm';
import { bigint, index, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { clusters } from './clusters.ts';

export interface InstanceAttribute {
  name: string;
  value?: string;
  /**
   * true for attributes set through PutAttributes; absent for the agent's own (registration). Kept on
   * the entry rather than in a column of its own so an attribute and its owner change together, and
   * placement keeps reading one list. Never shown on the wire.
   */
  custom?: true;
}

export interface VersionInfo {
  agentVersion: string;
  agentHash?: string;
  dockerVersion: string;
}

/**
 * Docker hosts registered by their agents. Remaining resources and agentConnected are not stored:
 * they are derived from the tasks placed here and from lastHeartbeatAt, so they cannot drift.
 */
export const containerInstances = pgTable(
  'container_instances',
  {
    id: uuid('id').primaryKey().default(sql`gen_random_uuid()`),
    clusterId: uuid('cluster_id')
      .notNull()
      .references(() => clusters.id),
    status: text('status').$type<ContainerInstanceStatus>().notNull(),
    hostname: text('hostname').notNull().default(''),
    registeredCpu: integer('registered_cpu').notNull().default(0),
    registeredMemory: integer('registered_memory').notNull().default(0),
    /** Host ports the instance reserves for itself, as 'tcp:22' / 'udp:53'. */
    reservedPorts: text('reserved_ports').array().notNull().default(sql`'{}'::text[]`),
    attributes: jsonb('attributes').$type<InstanceAttribute[]>().notNull().default(sql`'[]'::jsonb`),
    versionInfo: jsonb('version_info').$type<VersionInfo>(),
    /** sha256 of the agent's credential secret; the secret itself is random and never stored. */
    credentialHash: text('credential_hash'),
    /** sha256 (hex) of the client certificate last issued to the agent; its mTLS identity. */
    certificateFingerprint: text('certificate_fingerprint'),
    /** The one issued before it, still accepted until it expires (a renewal's requests in flight). */
    previousCertificateFingerprint: text('previous_certificate_fingerprint'),
    lastHeartbeatAt: timestamp('last_heartbeat_at', { withTimezone: true, precision: 3 }),
    /** Bumped whenever what this instance should run changes; agents long-poll on it. */
    desiredVersion: bigint('desired_version', { mode: 'number' }).notNull().default(0),
    registeredAt: timestamp('registered_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [index('container_instances_cluster_status').on(t.clusterId, t.status)],
);
