import { pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * API access keys. SigV4 verification needs the secret itself, so it is stored encrypted with the
 * master key (AES-256-GCM), never hashed and never in clear.
 */
export const accessKeys = pgTable('access_keys', {
  accessKeyId: text('access_key_id').primaryKey(),
  secretCiphertext: text('secret_ciphertext').notNull(),
  name: text('name').notNull().unique(),
  status: text('status').$type<'ACTIVE' | 'INACTIVE'>().notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
});
