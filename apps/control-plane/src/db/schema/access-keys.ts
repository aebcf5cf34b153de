import { bigint, index, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * API access keys. SigV4 verification needs the secret itself, so it is stored encrypted with the
 * master key (AES-256-GCM), never hashed and never in clear. `name` is the key's user: a user holds
 * at most two keys, so one can be rotated while the other works. Each key carries its policy
 * (auth/policy.ts); `policyName` names the preset it came from, null for a policy given as a document.
 */
export const accessKeys = pgTable(
  'access_keys',
  {
    accessKeyId: text('access_key_id').primaryKey(),
    secretCiphertext: text('secret_ciphertext').notNull(),
    name: text('name').notNull(),
    status: text('status').$type<'ACTIVE' | 'INACTIVE'>().notNull(),
    policy: jsonb('policy').$type<Record<string, unknown>>().notNull(),
    policyName: text('policy_name'),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [index('access_keys_name').on(t.name)],
);

/**
 * The audit log: one row per mutating call and per refused call, written by the request itself once
 * its outcome is known. `result` is `ok` or the error code the caller got. Housekeeping removes rows
 * older than BOSUN_AUDIT_RETENTION_SECONDS.
 */
export const auditEvents = pgTable(
  'audit_events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    at: timestamp('at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    requestId: text('request_id').notNull(),
    accessKeyId: text('access_key_id').notNull(),
    userName: text('user_name'),
    action: text('action').notNull(),
    resources: jsonb('resources').$type<string[]>().notNull(),
    result: text('result').notNull(),
    sourceAddress: text('source_address').notNull(),
  },
  (t) => [
    index('audit_events_at').on(t.at, t.id),
    index('audit_events_key').on(t.accessKeyId, t.id),
    index('audit_events_action').on(t.action, t.id),
  ],
);
