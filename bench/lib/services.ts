/** What one run uses of Postgres, Redis and the disk, each undone at clean-up. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createScratchDatabase, deleteQueueKeys, newQueuePrefix, requireEnv } from '@bosun/testkit';
import { onCleanup } from './run.ts';

/** A fresh database on DATABASE_URL's server (`bosun_bench_*`), dropped at clean-up; its URL. */
export async function scratchDatabase(): Promise<string> {
  const db = await createScratchDatabase({ prefix: 'bosun_bench' });
  onCleanup(`drop database ${new URL(db.url).pathname.slice(1)}`, () => db.drop());
  return db.url;
}

/** A BullMQ prefix of its own; its keys are deleted from Redis at clean-up. */
export function queuePrefix(): string {
  const prefix = newQueuePrefix('bosun_bench');
  onCleanup(`redis keys ${prefix}:*`, () => deleteQueueKeys(requireEnv('REDIS_URL'), prefix));
  return prefix;
}

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onCleanup(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
