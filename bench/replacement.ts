/**
 * replacement: how long bosun takes to replace a service task whose container dies.
 *
 * The real stack (bench/stack.ts: one control-plane process, one agent on the local Docker daemon, or
 * DOCKER_HOST) runs a service of TASKS tasks of bosun/busybox:latest `sleep 3600`. One of its
 * containers is killed (`docker kill -s KILL`), one at a time, KILLS times; each time the clock runs
 * from the kill until Docker shows TASKS containers of the service running, one of them new (not one
 * that was running before the kill), and DescribeServices shows runningCount back at TASKS. The next
 * kill waits for that. p50, p95 and max, plus the raw list, in bench/results/replacement.json.
 *
 * Baseline in the same run: how long the bare `docker kill` + `docker run` of the same image takes
 * (the floor any replacement pays on this daemon), measured the same way by polling Docker.
 *
 *   node --import tsx bench/replacement.ts [--smoke]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Docker from 'dockerode';
import { dockerCli } from './lib/docker.ts';
import { median, num, quantile } from './lib/numbers.ts';
import { type Row, report } from './lib/report.ts';
import { log, main, onCleanup, SMOKE } from './lib/run.ts';
import { startBosun } from './stack.ts';

const TASKS = SMOKE ? 3 : 10;
const KILLS = SMOKE ? 3 : Number(process.env.BOSUN_BENCH_REPLACEMENT_KILLS ?? 20);
const P50_TARGET_S = 1;
const POLL_MS = 25;
const TIMEOUT_MS = 60_000;
const SERVICE = 'replace-me';
const IMAGE = 'bosun/busybox:latest';

interface Kill {
  /** Seconds from the kill until Docker showed a new container of the service running (and TASKS in all). */
  dockerSeconds: number;
  /** Seconds from the kill until that and runningCount === TASKS. */
  seconds: number;
  victim: string;
  replacement: string;
}

main(async () => {
  const docker = new Docker();
  const bosun = await startBosun({
    name: 'replacement',
    agentEnv: { BOSUN_TASK_CLEANUP_DELAY_SECONDS: '0' },
  });
  const label = `bosun.instance-id=${bosun.instanceId}`;
  await bosun.registerSleep('sleep');

  const running = async (): Promise<string[]> =>
    (await docker.listContainers({ filters: { label: [label], status: ['running'] } })).map((c) => c.Id);
  const runningCount = async (): Promise<number> => {
    const { services } = await bosun.ecs.call<{ services: { runningCount: number }[] }>('DescribeServices', {
      services: [SERVICE],
    });
    return services[0]?.runningCount ?? -1;
  };

  await bosun.ecs.call('CreateService', {
    serviceName: SERVICE,
    taskDefinition: 'sleep',
    desiredCount: TASKS,
  });
  onCleanup('delete the service', async () => {
    await bosun.ecs.call('DeleteService', { service: SERVICE, force: true }).catch(() => undefined);
  });
  {
    const deadline = Date.now() + 120_000;
    while ((await running()).length !== TASKS || (await runningCount()) !== TASKS) {
      if (Date.now() > deadline) throw new Error(`the service never reached ${TASKS} running`);
      await sleep(200);
    }
  }
  log(`service of ${TASKS} running; ${KILLS} kills`);
  await sleep(SMOKE ? 500 : 2000);

  const kills: Kill[] = [];
  for (let k = 0; k < KILLS; k++) {
    const before = await running();
    const victim = before[k % before.length] as string;
    const t0 = performance.now();
    await docker.getContainer(victim).kill({ signal: 'KILL' });
    const deadline = Date.now() + TIMEOUT_MS;
    let dockerSeconds = Number.NaN;
    let replacement = '';
    for (;;) {
      if (Date.now() > deadline) throw new Error(`kill ${k + 1}: no replacement after ${TIMEOUT_MS} ms`);
      if (Number.isNaN(dockerSeconds)) {
        const now = await running();
        const fresh = now.filter((id) => !before.includes(id));
        if (now.length === TASKS && !now.includes(victim) && fresh.length > 0) {
          dockerSeconds = (performance.now() - t0) / 1000;
          replacement = fresh[0] as string;
        }
      }
      if (!Number.isNaN(dockerSeconds) && (await runningCount()) === TASKS) break;
      await sleep(POLL_MS);
    }
    const seconds = (performance.now() - t0) / 1000;
    kills.push({
      dockerSeconds,
      seconds,
      victim: victim.slice(0, 12),
      replacement: replacement.slice(0, 12),
    });
    log(`kill ${k + 1}/${KILLS}: Docker ${num(dockerSeconds, 3)} s, runningCount ${num(seconds, 3)} s`);
    // Let the stopped task's clean-up and the service's bookkeeping settle before the next kill.
    await sleep(SMOKE ? 300 : 1000);
  }
  const final = await running();

  // Baseline: a bare kill + run of the same image on the same daemon, timed by the same polling.
  const baseline: number[] = [];
  for (let i = 0; i < (SMOKE ? 2 : 5); i++) {
    const name = `bosun-bench-replacement-raw-${process.pid}-${i}`;
    const t0 = performance.now();
    dockerCli(undefined, ['run', '-d', '--rm', '--name', name, '-m', '16m', IMAGE, 'sleep', '3600']);
    while ((await docker.listContainers({ filters: { name: [name], status: ['running'] } })).length === 0)
      await sleep(POLL_MS);
    baseline.push((performance.now() - t0) / 1000);
    dockerCli(undefined, ['kill', '-s', 'KILL', name]);
  }
  const raw = median(baseline);

  const secs = kills.map((x) => x.seconds);
  const dockerSecs = kills.map((x) => x.dockerSeconds);
  const p50 = quantile(secs, 0.5);
  const p95 = quantile(secs, 0.95);
  const rows: Row[] = [
    {
      metric: `kill -9 → replacement RUNNING (Docker) + runningCount ${TASKS}: p50`,
      value: `${num(p50, 2)} s`,
      target: `≤ ${P50_TARGET_S} s`,
      met: p50 <= P50_TARGET_S,
      note: `${KILLS} kills, one at a time, service of ${TASKS}; ${num(p50 / raw, 1)}× a bare \`docker run\` (${num(raw, 2)} s)`,
    },
    {
      metric: 'same, p95 / max',
      value: `${num(p95, 2)} / ${num(Math.max(...secs), 2)} s`,
      note: `Docker alone (new container running): p50 ${num(quantile(dockerSecs, 0.5), 2)} s, p95 ${num(quantile(dockerSecs, 0.95), 2)} s`,
    },
    {
      metric: 'containers running at the end',
      value: `${final.length}`,
      target: `= ${TASKS}`,
      met: final.length === TASKS,
      note: 'no task lost or duplicated',
    },
  ];
  report('replacement', `replacement (service of ${TASKS}, ${KILLS} kills)`, rows, {
    tasks: TASKS,
    kills,
    seconds: secs,
    dockerSeconds: dockerSecs,
    p50,
    p95,
    baselineDockerRunSeconds: baseline,
  });
});
