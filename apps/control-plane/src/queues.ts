import { type Job, type JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';

/**
 * Every BullMQ queue of the control plane, in one place: name, payload schema, retries. Payloads carry
 * ids only; Postgres holds the truth and every job is safe to run twice (BullMQ is at-least-once).
 */
export const QUEUE_CATALOG = {
  /** Turns one PENDING placement request (RunTask/StartTask) into tasks. */
  placement: {
    name: 'placement',
    payload: z.object({ placementRequestId: z.string().uuid() }),
    options: {
      attempts: 5,
      backoff: { type: 'exponential', delay: 100 },
      removeOnComplete: true,
      removeOnFail: { age: 24 * 3600 },
    } satisfies JobsOptions,
    concurrency: 8,
  },
  /** Periodic: forgets stopped tasks past their retention, cancels abandoned placement requests. */
  housekeeping: {
    name: 'housekeeping',
    payload: z.object({}),
    options: { attempts: 1, removeOnComplete: true, removeOnFail: { age: 3600 } } satisfies JobsOptions,
    concurrency: 1,
    everyMs: 5 * 60 * 1000,
  },
} as const;

export type QueueKey = keyof typeof QUEUE_CATALOG;
export type Payload<K extends QueueKey> = z.output<(typeof QUEUE_CATALOG)[K]['payload']>;
export type TypedJob<K extends QueueKey> = Job<Payload<K>>;

/** The producing side, typed by the catalog: `queues.add('placement', { placementRequestId }, jobId)`. */
export class Queues {
  private readonly queues: { [K in QueueKey]: Queue };

  constructor(
    connection: Redis,
    readonly prefix: string,
  ) {
    const make = (key: QueueKey) =>
      new Queue(QUEUE_CATALOG[key].name, {
        connection,
        prefix,
        defaultJobOptions: QUEUE_CATALOG[key].options,
      });
    this.queues = { placement: make('placement'), housekeeping: make('housekeeping') };
  }

  /** `jobId` deduplicates: adding a job whose id is still queued or running does nothing. */
  async add<K extends QueueKey>(key: K, payload: Payload<K>, jobId?: string): Promise<void> {
    const data = QUEUE_CATALOG[key].payload.parse(payload);
    await this.queues[key].add(key, data, jobId === undefined ? {} : { jobId });
  }

  /** Idempotent: every process upserts the same scheduler id, so one schedule exists per install. */
  async scheduleHousekeeping(): Promise<void> {
    await this.queues.housekeeping.upsertJobScheduler(
      'housekeeping',
      { every: QUEUE_CATALOG.housekeeping.everyMs },
      { name: 'housekeeping', data: {}, opts: QUEUE_CATALOG.housekeeping.options },
    );
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.queues).map((q) => q.close()));
  }
}
