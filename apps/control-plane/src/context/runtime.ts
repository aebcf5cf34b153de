import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { Notifier } from '../agent-protocol/wake-ups.ts';
import { Queues } from '../workers/queues.ts';

/** The process's Redis-backed machinery: job queues and cross-process wake-ups. */
export interface ControlPlaneRuntime {
  queues: Queues;
  notifier: Notifier;
}

/**
 * The Redis-side machinery of one control-plane process: the job queues (producing side) and the one
 * subscriber connection that wakes long-polls and waiting RunTasks. Built before the app, so the app
 * and the workers share it; closed after both.
 */
export async function createRuntime(
  redis: Redis,
  options: { queuePrefix: string; log: FastifyBaseLogger },
): Promise<ControlPlaneRuntime & { close(): Promise<void> }> {
  const notifier = new Notifier(redis.duplicate(), redis, options.log);
  await notifier.waitUntilReady();
  const queues = new Queues(redis, options.queuePrefix);
  return {
    notifier,
    queues,
    async close() {
      await queues.close();
      await notifier.close();
    },
  };
}
