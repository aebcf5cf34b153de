import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** A BullMQ prefix of its own, so a job another test or run left in Redis never reaches this one. */
export function newQueuePrefix(tag = 'bosun_t'): string {
  return `${tag}_${randomBytes(6).toString('hex')}`;
}

/** Deletes every key under a BullMQ prefix (queues, jobs, schedules): nothing of the install is left. */
export async function deleteQueueKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
