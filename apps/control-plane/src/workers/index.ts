import { type Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { housekeeping } from './housekeeping.ts';
import { placePendingRequests, type WorkerDeps } from './placement.ts';
import { WorkerPulse, workersStaleMs } from './pulse.ts';
import { type Payload, QUEUE_CATALOG, type QueueKey, type Queues } from './queues.ts';
import { evaluateService, sweepServices } from './services.ts';

export interface Workers {
  /** The workers' heartbeat, for /readyz. */
  pulse: WorkerPulse;
  close(): Promise<void>;
}

/** What runs each queue's jobs: a queue added to the catalog without one here does not type-check. */
type Processors = { [K in QueueKey]: (payload: Payload<K>) => Promise<unknown> };

/**
 * Starts this process's BullMQ workers, one per queue of the catalog, and makes sure the periodic
 * schedules exist. Every control-plane process runs them all; BullMQ hands each job to one of them.
 */
export async function startWorkers(deps: WorkerDeps & { redis: Redis; queues: Queues }): Promise<Workers> {
  const processors: Processors = {
    placement: (p) => placePendingRequests(deps, p.clusterId),
    services: (p) => evaluateService(deps, p.serviceId, p.trigger),
    serviceSweep: () => sweepServices(deps),
    housekeeping: () => housekeeping(deps),
  };
  const pulse = new WorkerPulse(workersStaleMs(deps.settings.serviceSweepMs));
  const workers = (Object.keys(QUEUE_CATALOG) as QueueKey[]).map((key) => {
    const entry = QUEUE_CATALOG[key];
    const run = processors[key] as (payload: unknown) => Promise<unknown>;
    const worker = new Worker(
      entry.name,
      (job: Job) => pulse.track(() => run(entry.payload.parse(job.data))),
      {
        connection: deps.redis,
        prefix: deps.queues.prefix,
        concurrency: entry.concurrency,
      },
    );
    worker.on('failed', (job, err) =>
      deps.log.error({ err, jobId: job?.id, queue: entry.name }, 'job failed'),
    );
    worker.on('error', (err) => deps.log.error({ err, queue: entry.name }, 'worker error'));
    return worker;
  });
  await Promise.all(workers.map((w) => w.waitUntilReady()));

  // A schedule lives in Redis, so a flushed or replaced Redis loses it: every process upserts each one
  // now (idempotent: one schedule id per install) and again now and then; the sweep heals the rest.
  const schedules = [
    { name: 'housekeeping', assert: () => deps.queues.scheduleHousekeeping(), reassertMs: 60_000 },
    {
      name: 'services sweep',
      assert: () => deps.queues.scheduleServiceSweep(deps.settings.serviceSweepMs),
      reassertMs: Math.max(deps.settings.serviceSweepMs * 2, 5_000),
    },
  ];
  await Promise.all(schedules.map((s) => s.assert()));
  const timers = schedules.map((s) =>
    setInterval(() => {
      s.assert().catch((err: unknown) => deps.log.warn({ err }, `cannot re-assert the ${s.name} schedule`));
    }, s.reassertMs),
  );
  timers.push(
    setInterval(
      () => pulse.tick(workers.every((w) => w.isRunning())),
      Math.min(deps.settings.serviceSweepMs, 1_000),
    ),
  );
  return {
    pulse,
    async close() {
      for (const t of timers) clearInterval(t);
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}
