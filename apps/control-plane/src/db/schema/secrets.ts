import { pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * Secrets that task definitions refer to, such as private registry credentials
 * (`repositoryCredentials.credentialsParameter`). bosun plays the part AWS Secrets Manager plays for
 * ECS. The value is stored encrypted with the master key and only ever leaves the control plane
 * over an agent's authenticated channel, for a task placed on that agent.
 */
export const secrets = pgTable('secrets', {
  name: text('name').primaryKey(),
  valueCiphertext: text('value_ciphertext').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
});
