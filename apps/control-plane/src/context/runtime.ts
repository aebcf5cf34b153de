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
 * and the workers share it; closed after both. Queue adds and wake-ups go through `producer`, a
 * connection that fails at once while Redis is unreachable, and each is bounded by `redisWaitMs`: an
 * API call answers while Redis is down. The subscriber waits the outage out and re-subscribes.
 */
export async function createRuntime(
  redis: Redis,
  producer: Redis,
  options: { queuePrefix: string; log: FastifyBaseLogger; redisWaitMs: number },
): Promise<ControlPlaneRuntime & { close(): Promise<void> }> {
  const subscriber = redis.duplicate();
  subscriber.on('error', () => {});
  const notifier = new Notifier(subscriber, producer, options.log);
  await notifier.waitUntilReady();
  const queues = new Queues(producer, options.queuePrefix, options.redisWaitMs);
  return {
    notifier,
    queues,
    async close() {
      await queues.close();
      await notifier.close();
    },
  };
}
