import type { Db } from '../db/client.ts';
import { clusters } from '../db/schema/index.ts';

/**
 * ECS always has a `default` cluster to fall back on. It is created once; if a user later
 * deletes it, it stays deleted (the insert does nothing on an existing row).
 */
export async function ensureDefaultCluster(db: Db): Promise<void> {
  await db
    .insert(clusters)
    .values({
      name: 'default',
      status: 'ACTIVE',
      settings: [{ name: 'containerInsights', value: 'disabled' }],
    })
    .onConflictDoNothing({ target: clusters.name });
}
