/**
 * What the convergence modes share (bench/convergence.ts): sizes, raw dockerode and Swarm runs, a
 * bosun run, and Docker's own record of when containers were created and started.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Docker from 'dockerode';
import { dockerCli } from './lib/docker.ts';
import { SMOKE } from './lib/run.ts';
import type { Bosun } from './stack.ts';

/** How bosun is asked for the containers (bench/convergence.ts says what each mode is). */
export const MODE = (process.env.BOSUN_BENCH_CONVERGENCE_MODE ?? 'auto') as
  | 'runtask'
  | 'service'
  | 'auto'
  | 'stack';
export const REPLICAS = SMOKE ? 4 : 20;
export const RUNS = SMOKE ? 1 : Number(process.env.BOSUN_BENCH_CONVERGENCE_RUNS ?? 5);
export const IMAGE = 'bosun/busybox:latest';
export const LABEL = 'bosun.bench';
export const RAW_TARGET = 1.15;
export const SWARM_TARGET = 2;
export const POLL_MS = 50;
/**
 * The HEALTHY variant's check, the same for all three: ECS's smallest interval (5 s). Docker runs the
 * first probe one interval after the start, so every way pays it once, after its last start.
 */
export const HEALTH = { command: 'true', intervalSeconds: 5 };

/** One run: seconds until all REPLICAS were running, and [seconds, running] points. */
export interface Run {
  seconds: number;
  curve: [number, number][];
  /** When Docker created the first and the last container, seconds after the run began (its `Created`). */
  created?: Span;
  /** When the first and the last container's process started (Docker's `State.StartedAt`), likewise. */
  started?: Span;
}

export interface Span {
  first: number;
  last: number;
}

/**
 * Docker's creation and start times of the labelled running containers, as seconds after `t0Wall`
 * (Date.now()). Running only: a stack with the default cleanup delay keeps earlier rounds' stopped ones.
 */
export async function dockerSpans(
  docker: Docker,
  label: string,
  t0Wall: number,
): Promise<Pick<Run, 'created' | 'started'>> {
  const list = await docker.listContainers({ filters: { label: [label], status: ['running'] } });
  const inspected = await Promise.all(list.map((c) => docker.getContainer(c.Id).inspect()));
  const span = (times: number[]): Span | undefined =>
    times.length === 0 ? undefined : { first: Math.min(...times) / 1000, last: Math.max(...times) / 1000 };
  return {
    created: span(inspected.map((i) => Date.parse(i.Created) - t0Wall)),
    started: span(inspected.map((i) => Date.parse(i.State.StartedAt) - t0Wall)),
  };
}

export function dockerFor(host: string): Docker {
  return new Docker({ socketPath: host.replace(/^unix:\/\//, '') });
}

export async function removeLabelled(docker: Docker, label: string): Promise<void> {
  const list = await docker.listContainers({ all: true, filters: { label: [label] } });
  await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true })));
}

/** Until no container has the label; with `runningOnly`, until none of them runs. */
export async function waitNoContainers(
  docker: Docker,
  label: string,
  timeoutMs = 60_000,
  runningOnly = false,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await docker.listContainers({ all: !runningOnly, filters: { label: [label] } })).length > 0) {
    if (Date.now() > deadline) throw new Error(`containers with ${label} are still there`);
    await sleep(100);
  }
}

/** Polls Docker until REPLICAS containers with the label report healthy, adding to the curve. */
export async function waitHealthy(
  docker: Docker,
  label: string,
  t0: number,
  curve: [number, number][],
): Promise<void> {
  let healthy = 0;
  const deadline = Date.now() + 180_000;
  while (healthy < REPLICAS) {
    if (Date.now() > deadline) throw new Error(`${label}: only ${healthy} of ${REPLICAS} healthy`);
    const now = (await docker.listContainers({ filters: { label: [label], health: ['healthy'] } })).length;
    if (now !== healthy) {
      healthy = now;
      curve.push([(performance.now() - t0) / 1000, healthy]);
    }
    if (healthy < REPLICAS) await sleep(POLL_MS);
  }
}

// ---- (a) raw dockerode ----------------------------------------------------------------------------

export async function rawRun(
  docker: Docker,
  concurrency: number,
  run: number,
  healthy = false,
): Promise<Run> {
  const curve: [number, number][] = [[0, 0]];
  let next = 0;
  let running = 0;
  const t0Wall = Date.now();
  const t0 = performance.now();
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= REPLICAS) return;
      const container = await docker.createContainer({
        name: `bosun-bench-raw-${process.pid}-${run}-${i}`,
        Image: IMAGE,
        Cmd: ['sleep', '3600'],
        Labels: { [LABEL]: 'raw' },
        HostConfig: { Memory: 16 * 1024 * 1024 },
        ...(healthy
          ? {
              Healthcheck: {
                Test: ['CMD-SHELL', HEALTH.command],
                Interval: HEALTH.intervalSeconds * 1e9,
                Timeout: 5e9,
                Retries: 3,
              },
            }
          : {}),
      });
      await container.start();
      if (!healthy) {
        running += 1;
        curve.push([(performance.now() - t0) / 1000, running]);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (healthy) await waitHealthy(docker, `${LABEL}=raw`, t0, curve);
  const seconds = (performance.now() - t0) / 1000;
  const spans = await dockerSpans(docker, `${LABEL}=raw`, t0Wall);
  await removeLabelled(docker, `${LABEL}=raw`);
  return { seconds, curve, ...spans };
}

// ---- (b) Swarm ------------------------------------------------------------------------------------

export async function swarmRun(host: string, docker: Docker, run: number, healthy = false): Promise<Run> {
  const name = `bench-${healthy ? 'h' : ''}${run}`;
  const curve: [number, number][] = [[0, 0]];
  const t0 = performance.now();
  dockerCli(host, [
    'service',
    'create',
    '--detach',
    '--quiet',
    '--no-resolve-image',
    '--name',
    name,
    '--replicas',
    String(REPLICAS),
    '--limit-memory',
    '16m',
    '--container-label',
    `${LABEL}=swarm`,
    ...(healthy
      ? [
          '--health-cmd',
          HEALTH.command,
          '--health-interval',
          `${HEALTH.intervalSeconds}s`,
          '--health-retries',
          '3',
        ]
      : []),
    IMAGE,
    'sleep',
    '3600',
  ]);
  let running = 0;
  const deadline = Date.now() + 180_000;
  if (healthy) {
    await waitHealthy(docker, `${LABEL}=swarm`, t0, curve);
    running = REPLICAS;
  }
  while (running < REPLICAS) {
    if (Date.now() > deadline) throw new Error(`swarm: only ${running} of ${REPLICAS} running`);
    const tasks = await docker.listTasks({ filters: { service: [name], 'desired-state': ['running'] } });
    const now = tasks.filter((t: { Status?: { State?: string } }) => t.Status?.State === 'running').length;
    if (now !== running) {
      running = now;
      curve.push([(performance.now() - t0) / 1000, running]);
    }
    if (running < REPLICAS) await sleep(POLL_MS);
  }
  const seconds = (performance.now() - t0) / 1000;
  dockerCli(host, ['service', 'rm', name]);
  await waitNoContainers(docker, `${LABEL}=swarm`);
  return { seconds, curve };
}

// ---- (c) bosun ------------------------------------------------------------------------------------

export async function bosunRun(
  bosun: Bosun,
  docker: Docker,
  mode: 'runtask' | 'service',
  run: number,
  healthy = false,
): Promise<Run> {
  const curve: [number, number][] = [[0, 0]];
  const t0Wall = Date.now();
  const t0 = performance.now();
  let running = 0;
  const deadline = Date.now() + 180_000;
  const instanceLabel = `bosun.instance-id=${bosun.instanceId}`;
  if (mode === 'service') {
    // ---- services variant (issue 4) ----
    const name = `bench-${healthy ? 'h' : ''}${run}`;
    await bosun.ecs.call('CreateService', {
      serviceName: name,
      taskDefinition: healthy ? 'sleep-healthy' : 'sleep',
      desiredCount: REPLICAS,
    });
    if (healthy) {
      // Docker's view, as for the other two (the service's tasks go HEALTHY from the same probes).
      await waitHealthy(docker, `bosun.instance-id=${bosun.instanceId}`, t0, curve);
      running = REPLICAS;
    }
    while (running < REPLICAS) {
      if (Date.now() > deadline) throw new Error(`bosun service: only ${running} running`);
      const { services } = await bosun.ecs.call<{ services: { runningCount: number }[] }>(
        'DescribeServices',
        {
          services: [name],
        },
      );
      const now = services[0]?.runningCount ?? 0;
      if (now !== running) {
        running = now;
        curve.push([(performance.now() - t0) / 1000, running]);
      }
      if (running < REPLICAS) await sleep(POLL_MS);
    }
    const seconds = (performance.now() - t0) / 1000;
    const spans = await dockerSpans(docker, instanceLabel, t0Wall);
    await bosun.ecs.call('UpdateService', { service: name, desiredCount: 0 });
    await bosun.ecs.call('DeleteService', { service: name, force: true });
    // In the stack mode stopped containers stay for the agent's default cleanup delay, as for a user.
    await waitNoContainers(docker, instanceLabel, 120_000, MODE === 'stack');
    return { seconds, curve, ...spans };
  }
  const arns: string[] = [];
  const calls: Promise<void>[] = [];
  for (let left = REPLICAS; left > 0; left -= 10) {
    calls.push(bosun.runTask('sleep', Math.min(10, left)).then((a) => void arns.push(...a)));
  }
  await Promise.all(calls);
  while (running < REPLICAS) {
    if (Date.now() > deadline) throw new Error(`bosun: only ${running} of ${REPLICAS} RUNNING`);
    const statuses = await bosun.statuses(arns);
    const now = [...statuses.values()].filter((s) => s === 'RUNNING').length;
    if ([...statuses.values()].includes('STOPPED')) throw new Error('bosun: a task stopped');
    if (now !== running) {
      running = now;
      curve.push([(performance.now() - t0) / 1000, running]);
    }
    if (running < REPLICAS) await sleep(POLL_MS);
  }
  const seconds = (performance.now() - t0) / 1000;
  const spans = await dockerSpans(docker, instanceLabel, t0Wall);
  await Promise.all(arns.map((task) => bosun.ecs.call('StopTask', { task, reason: 'bench run over' })));
  await waitNoContainers(docker, instanceLabel, 120_000);
  return { seconds, curve, ...spans };
}
