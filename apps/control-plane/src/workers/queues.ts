import { ServiceUnavailableError } from '@bosun/model';
import { type Job, type JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';

/**
 * Every BullMQ queue of the control plane, in one place: name, payload schema, retries. Payloads carry
 * ids only; Postgres holds the truth and every job is safe to run twice (BullMQ is at-least-once).
 */
export const QUEUE_CATALOG = {
  /**
   * Places the PENDING placement requests (RunTask/StartTask) of one cluster, in batches
   * (workers/placement.ts). Deduplicated per cluster like services: while the cluster's job waits,
   * more requests ride on it; while it runs, one more job is kept for what arrives meanwhile.
   */
  placement: {
    name: 'placement',
    payload: z.object({ clusterId: z.string().uuid() }),
    options: {
      attempts: 5,
      backoff: { type: 'exponential', delay: 100 },
      removeOnComplete: true,
      removeOnFail: { age: 24 * 3600 },
    } satisfies JobsOptions,
    concurrency: 8,
  },
  /**
   * One evaluation of one service (workers/services.ts). Deduplicated per service with BullMQ's
   * `deduplication: { id, keepLastIfActive }`: a burst of triggers while a job waits is one job, and a
   * trigger that arrives while the service's job is running is kept and run once more after it.
   */
  services: {
    name: 'services',
    payload: z.object({
      serviceId: z.string().uuid(),
      trigger: z.enum([
        'created',
        'updated',
        'deleted',
        'task-changed',
        'instances-changed',
        'sweep',
        'timer',
      ]),
    }),
    options: {
      attempts: 5,
      backoff: { type: 'exponential', delay: 200 },
      removeOnComplete: true,
      removeOnFail: { age: 24 * 3600 },
    } satisfies JobsOptions,
    concurrency: 8,
  },
  /** Periodic: queues every ACTIVE/DRAINING service, so a lost job or a flushed Redis heals. */
  serviceSweep: {
    name: 'service-sweep',
    payload: z.object({}),
    options: { attempts: 1, removeOnComplete: true, removeOnFail: { age: 3600 } } satisfies JobsOptions,
    concurrency: 1,
  },
  /**
   * Periodic: removes stopped tasks, service events, deregistered instances and request records past
   * their retention, cancels abandoned placement requests (workers/housekeeping.ts).
   */
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

/**
 * The producing side, typed by the catalog: `queues.add('services', { serviceId, trigger }, jobId)`.
 * Over a connection that fails at once while Redis is unreachable (context/start.ts), and each call
 * bounded by `waitMs` besides: an API call that queues a job answers while Redis is down or hung,
 * with ServiceUnavailableError, instead of waiting for it to come back.
 */
export class Queues {
  private readonly queues: { [K in QueueKey]: Queue };

  constructor(
    connection: Redis,
    readonly prefix: string,
    private readonly waitMs: number,
  ) {
    const make = (key: QueueKey) => {
      const queue = new Queue(QUEUE_CATALOG[key].name, {
        connection,
        prefix,
        defaultJobOptions: QUEUE_CATALOG[key].options,
      });
      // Connection errors reach each call (bounded) and DependencyHealth; unheard, BullMQ prints them.
      queue.on('error', () => {});
      return queue;
    };
    this.queues = {
      placement: make('placement'),
      housekeeping: make('housekeeping'),
      services: make('services'),
      serviceSweep: make('serviceSweep'),
    };
  }

  /** `jobId` deduplicates: adding a job whose id is still queued or running does nothing. */
  async add<K extends QueueKey>(key: K, payload: Payload<K>, jobId?: string): Promise<void> {
    const data = QUEUE_CATALOG[key].payload.parse(payload);
    await this.bounded(key, () => this.queues[key].add(key, data, jobId === undefined ? {} : { jobId }));
  }

  /** Asks for the placement of a cluster's PENDING requests (see the catalog's `placement`). */
  async placeCluster(clusterId: string): Promise<void> {
    const data = QUEUE_CATALOG.placement.payload.parse({ clusterId });
    await this.bounded('placement', () =>
      this.queues.placement.add('place', data, {
        deduplication: { id: clusterId, keepLastIfActive: true },
      }),
    );
  }

  /**
   * Asks for an evaluation of a service. Immediate triggers share the deduplication id `<serviceId>`:
   * while that job waits, more triggers are absorbed by it; while it runs, the last one is kept and
   * becomes one more job when it finishes (keepLastIfActive). Wake-ups use an id of their own
   * (`wakeServiceAt`), so a delayed timer never absorbs, and so holds back, a change.
   */
  async evaluateService(serviceId: string, trigger: Payload<'services'>['trigger']): Promise<void> {
    const data = QUEUE_CATALOG.services.payload.parse({ serviceId, trigger });
    await this.bounded('services', () =>
      this.queues.services.add('evaluate', data, {
        deduplication: { id: serviceId, keepLastIfActive: true },
      }),
    );
  }

  /**
   * The decision's `nextEvaluationAt`: a delayed job under its own deduplication id, replaced by every
   * later call while it is still delayed — each evaluation computes the next time from the whole
   * state, so the latest answer is the right one. A wake-up that turns out needless costs one no-op
   * evaluation.
   */
  async wakeServiceAt(serviceId: string, delayMs: number): Promise<void> {
    const data = QUEUE_CATALOG.services.payload.parse({ serviceId, trigger: 'timer' });
    await this.bounded('services', () =>
      this.queues.services.add('evaluate', data, {
        delay: Math.max(0, Math.round(delayMs)),
        deduplication: { id: `${serviceId}:timer`, keepLastIfActive: true, replace: true },
      }),
    );
  }

  /** The services sweep, every `everyMs` (BOSUN_SERVICE_SWEEP_SECONDS); idempotent like housekeeping's. */
  async scheduleServiceSweep(everyMs: number): Promise<void> {
    await this.queues.serviceSweep.upsertJobScheduler(
      'service-sweep',
      { every: everyMs },
      { name: 'service-sweep', data: {}, opts: QUEUE_CATALOG.serviceSweep.options },
    );
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

  /**
   * One producer call, answered within `waitMs` whatever Redis does. A call that times out may still
   * land later, which is harmless: every job is safe to run twice, and RunTask cancels its request
   * under the row lock (scheduling/submit.ts) so a late placement finds nothing to do.
   */
  private async bounded(queue: string, op: () => Promise<unknown>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        op(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer in ${this.waitMs} ms`)), this.waitMs);
        }),
      ]);
    } catch (err) {
      throw new ServiceUnavailableError(
        `bosun cannot reach Redis to queue a ${queue} job (${err instanceof Error ? err.message : String(err)}); retry the request.`,
        err,
      );
    } finally {
      clearTimeout(timer);
    }
  }
}

/** What nudge logs with (pino's and fastify's loggers). */
interface WarnLog {
  warn(obj: object, msg: string): void;
}

/**
 * An enqueue that only hastens what the services sweep does anyway (it evaluates every live service
 * each BOSUN_SERVICE_SWEEP_SECONDS once Redis answers): when it fails, the caller's own work is
 * committed already, so the failure is logged and the caller carries on (an agent's report, a new
 * host, StopTask, CreateService…), rather than being told to retry what succeeded.
 */
export async function nudge(log: WarnLog, what: string, enqueue: () => Promise<unknown>): Promise<void> {
  try {
    await enqueue();
  } catch (err) {
    log.warn({ err }, `${what} not queued; the services sweep will do it`);
  }
}
