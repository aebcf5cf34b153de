import { pgTable, primaryKey, text } from 'drizzle-orm/pg-core';

/** Tags of any taggable resource, keyed by its ARN. */
export const tags = pgTable(
  'tags',
  {
    resourceArn: text('resource_arn').notNull(),
    key: text('key').notNull(),
    value: text('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.resourceArn, t.key] })],
);
