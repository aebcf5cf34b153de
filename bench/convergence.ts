import { startTestHosts } from '@bosun/testkit';
import {
  bosunRun,
  dockerFor,
  HEALTH,
  LABEL,
  MODE,
  POLL_MS,
  RAW_TARGET,
  REPLICAS,
  RUNS,
  type Run,
  rawRun,
  removeLabelled,
  SWARM_TARGET,
  swarmRun,
} from './convergence-runs.ts';
import { lineChart } from './lib/chart.ts';
import { dockerCli } from './lib/docker.ts';
import { median, num } from './lib/numbers.ts';
import { agentBundle } from './lib/processes.ts';
import { type Row, report } from './lib/report.ts';
import { log, main, onCleanup, SMOKE } from './lib/run.ts';
import { type Bosun, startBosun } from './stack.ts';

// ---- MODE: how bosun is asked for the 20 containers ---------------------------------------------
// 'runtask'  RunTask count 10 ×2 (works today);
// 'service'  CreateService desiredCount 20 → runningCount 20 (services, issue 4);
// 'auto'     'service' when the control plane answers CreateService, else 'runtask';
// 'stack'    the stack a user runs, against raw dockerode at concurrency 6 (stackMain).
// BOSUN_BENCH_CONVERGENCE_MODE overrides.
// -------------------------------------------------------------------------------------------------

async function chooseMode(bosun: Bosun): Promise<'runtask' | 'service'> {
  if (MODE !== 'auto' && MODE !== 'stack') return MODE;
  try {
    await bosun.ecs.call('DescribeServices', { services: ['none'] });
    return 'service';
  } catch (e) {
    return e instanceof Error && e.message.includes('UnknownOperation') ? 'runtask' : 'service';
  }
}

// ---- MODE 'stack': the stack a user runs --------------------------------------------------------

/** The raw baseline of the report in issue 16: dockerode at concurrency 6 on the same daemon. */
const STACK_RAW_CONCURRENCY = 6;
const PULL_BEHAVIORS = ['default', 'prefer-cached'] as const;
type PullBehavior = (typeof PULL_BEHAVIORS)[number];

/**
 * As scripts/up runs bosun: the control plane at its own default log level (info; the other modes use
 * warn) and the agent bundle (lib.ts agentBundle(), scripts/build-agent's function) under plain node
 * with its flags, the agent's settings left at their defaults (the stopped containers stay for the
 * cleanup delay) but the pull behaviour. Each pull behaviour has its own control plane, so each
 * service lands on its own agent; both agents share the daemon with raw dockerode. The daemon is a
 * throwaway one unless BOSUN_BENCH_CONVERGENCE_DOCKER_HOST names one (the local daemon, as a user has).
 */
async function stackMain(): Promise<void> {
  let host = process.env.BOSUN_BENCH_CONVERGENCE_DOCKER_HOST;
  if (!host) {
    log('starting a throwaway Docker daemon (scripts/hosts up 1 --no-agents)');
    const hosts = await startTestHosts(1);
    onCleanup('scripts/hosts down --purge', () => hosts.down());
    host = hosts.dockerHost(1);
  }
  const docker = dockerFor(host);
  onCleanup('remove benchmark containers', () => removeLabelled(docker, LABEL));
  process.env.BOSUN_BENCH_LOG_LEVEL ??= 'info';
  const { file: bundle } = await agentBundle();
  const stacks = new Map<PullBehavior, Bosun>();
  for (const behavior of PULL_BEHAVIORS) {
    const bosun = await startBosun({
      name: `convergence-${behavior}`,
      dockerHost: host,
      agentBundle: bundle,
      agentEnv: { BOSUN_IMAGE_PULL_BEHAVIOR: behavior },
    });
    await bosun.registerSleep('sleep');
    stacks.set(behavior, bosun);
  }
  const stackOf = (behavior: PullBehavior) => stacks.get(behavior) as Bosun;
  log(`daemon at ${host}; agents: ${PULL_BEHAVIORS.join(', ')} pull behaviour`);

  if (!SMOKE) {
    await rawRun(docker, STACK_RAW_CONCURRENCY, -1);
    for (const behavior of PULL_BEHAVIORS) await bosunRun(stackOf(behavior), docker, 'service', -1);
  }
  const runs: Record<'raw' | PullBehavior, Run[]> = { raw: [], default: [], 'prefer-cached': [] };
  for (let r = 0; r < RUNS; r++) {
    runs.raw.push(await rawRun(docker, STACK_RAW_CONCURRENCY, r));
    for (const behavior of PULL_BEHAVIORS) {
      runs[behavior].push(await bosunRun(stackOf(behavior), docker, 'service', r));
    }
    log(
      `run ${r + 1}/${RUNS}: ${(['raw', ...PULL_BEHAVIORS] as const).map((k) => `${k} ${num(runs[k][r]?.seconds ?? 0, 3)} s`).join(', ')}`,
    );
  }

  const seconds = (k: keyof typeof runs) => runs[k].map((x) => x.seconds);
  const range = (values: number[], digits = 2, unit = '') =>
    `${num(Math.min(...values), digits)}–${num(Math.max(...values), digits)}${unit}`;
  const spanMedians = (k: keyof typeof runs, which: 'created' | 'started') => {
    const spans = runs[k].flatMap((x) => (x[which] ? [x[which]] : []));
    return `${num(median(spans.map((c) => c.first)), 2)} / ${num(median(spans.map((c) => c.last)), 2)}`;
  };
  const raw = median(seconds('raw'));
  const rows: Row[] = PULL_BEHAVIORS.map((behavior) => {
    const bos = median(seconds(behavior));
    const perRound = runs[behavior].map((x, i) => x.seconds / (runs.raw[i]?.seconds ?? Number.NaN));
    return {
      metric: `stack, ${behavior} pull: bosun / raw dockerode`,
      value: `${num(bos / raw, 2)}×`,
      target: `≤ ${RAW_TARGET}×`,
      met: bos / raw <= RAW_TARGET,
      note: `bosun ${num(bos, 2)} s (CreateService desiredCount ${REPLICAS}, DescribeServices every ${POLL_MS} ms), raw ${num(raw, 2)} s (concurrency ${STACK_RAW_CONCURRENCY}); per round ${range(perRound, 2, '×')}`,
    };
  });
  rows.push(
    {
      metric: 'stack: range over the rounds, raw / default / prefer-cached',
      value: `${range(seconds('raw'))} / ${range(seconds('default'))} / ${range(seconds('prefer-cached'))} s`,
      note: `${RUNS} rounds, each raw, default, prefer-cached in turn`,
    },
    {
      metric: 'stack: first / last container started (medians, after the run began)',
      value: (['raw', ...PULL_BEHAVIORS] as const)
        .map((k) => `${k} ${spanMedians(k, 'started')} s`)
        .join('; '),
      note: `Docker's \`State.StartedAt\`; created (\`Created\`): ${(['raw', ...PULL_BEHAVIORS] as const).map((k) => `${k} ${spanMedians(k, 'created')} s`).join('; ')}`,
    },
  );
  const medianRun = (k: keyof typeof runs): Run => {
    const sorted = [...runs[k]].sort((x, y) => x.seconds - y.seconds);
    return sorted[Math.floor((sorted.length - 1) / 2)] as Run;
  };
  const svg = lineChart({
    title: `${REPLICAS} containers to running on the stack a user runs (median run of each)`,
    xLabel: 'seconds since the request',
    yLabel: 'running',
    step: true,
    series: [
      { name: `raw dockerode (c=${STACK_RAW_CONCURRENCY})`, points: medianRun('raw').curve },
      ...PULL_BEHAVIORS.map((b) => ({ name: `bosun, ${b} pull`, points: medianRun(b).curve })),
    ],
  });
  report(
    'convergence',
    `convergence on the stack a user runs (${REPLICAS} containers, ${RUNS} rounds, median)`,
    rows,
    { replicas: REPLICAS, runs, mode: 'stack', rawConcurrency: STACK_RAW_CONCURRENCY },
    { 'convergence-stack.svg': svg },
  );
}

// ---- main -----------------------------------------------------------------------------------------

main(async () => {
  if (MODE === 'stack') return stackMain();
  log('starting a throwaway Docker daemon (scripts/hosts up 1 --no-agents)');
  const hosts = await startTestHosts(1);
  onCleanup('scripts/hosts down --purge', () => hosts.down());
  const host = hosts.dockerHost(1);
  const docker = dockerFor(host);
  onCleanup('remove benchmark containers', () => removeLabelled(docker, LABEL));
  log(`daemon at ${host}; swarm init`);
  dockerCli(host, ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
  onCleanup('swarm leave', () => {
    for (const s of dockerCli(host, ['service', 'ls', '-q']).split('\n').filter(Boolean)) {
      dockerCli(host, ['service', 'rm', s]);
    }
    dockerCli(host, ['swarm', 'leave', '--force']);
    // The gateway bridge Swarm made on this machine; the daemon itself goes with scripts/hosts down.
    try {
      dockerCli(host, ['network', 'rm', 'docker_gwbridge']);
    } catch {
      // already gone
    }
  });

  // Stopped tasks' containers are removed at once, so every run starts on an empty daemon.
  const bosun = await startBosun({
    name: 'convergence',
    dockerHost: host,
    agentEnv: { BOSUN_TASK_CLEANUP_DELAY_SECONDS: '0' },
  });
  await bosun.registerSleep('sleep');
  await bosun.registerSleep('sleep-healthy', {
    command: ['CMD-SHELL', HEALTH.command],
    interval: HEALTH.intervalSeconds,
    timeout: 5,
    retries: 3,
  });
  const mode = await chooseMode(bosun);
  log(`bosun mode: ${mode}`);

  // Warm-up of each path (image layers in the page cache, Swarm's first task, bosun's JIT).
  if (!SMOKE) {
    await rawRun(docker, 4, -1);
    await swarmRun(host, docker, -1);
    await bosunRun(bosun, docker, mode, -1);
  }

  // Calibration: the best concurrency for raw dockerode.
  const levels = SMOKE ? [4] : [1, 4, 8, 20].filter((c) => c <= REPLICAS);
  const calibration: Record<number, number> = {};
  for (const c of levels) {
    const times: number[] = [];
    for (let i = 0; i < (SMOKE ? 1 : 3); i++) times.push((await rawRun(docker, c, -10 - i)).seconds);
    calibration[c] = median(times);
    log(`raw concurrency ${c}: ${num(calibration[c] ?? 0, 3)} s`);
  }
  const best = Number(Object.entries(calibration).sort((x, y) => x[1] - y[1])[0]?.[0] ?? 4);

  const runs: Record<'raw' | 'swarm' | 'bosun', Run[]> = { raw: [], swarm: [], bosun: [] };
  for (let r = 0; r < RUNS; r++) {
    runs.raw.push(await rawRun(docker, best, r));
    runs.swarm.push(await swarmRun(host, docker, r));
    runs.bosun.push(await bosunRun(bosun, docker, mode, r));
    log(
      `run ${r + 1}/${RUNS}: raw ${num(runs.raw[r]?.seconds ?? 0, 3)} s, swarm ${num(runs.swarm[r]?.seconds ?? 0, 3)} s, bosun ${num(runs.bosun[r]?.seconds ?? 0, 3)} s`,
    );
  }
  // The HEALTHY variant (CreateService only: health checks are a services matter in the issue).
  const healthyRuns: Record<'raw' | 'swarm' | 'bosun', Run[]> = { raw: [], swarm: [], bosun: [] };
  if (mode === 'service') {
    for (let r = 0; r < RUNS; r++) {
      healthyRuns.raw.push(await rawRun(docker, best, 100 + r, true));
      healthyRuns.swarm.push(await swarmRun(host, docker, r, true));
      healthyRuns.bosun.push(await bosunRun(bosun, docker, mode, r, true));
      log(
        `healthy run ${r + 1}/${RUNS}: raw ${num(healthyRuns.raw[r]?.seconds ?? 0, 3)} s, swarm ${num(healthyRuns.swarm[r]?.seconds ?? 0, 3)} s, bosun ${num(healthyRuns.bosun[r]?.seconds ?? 0, 3)} s`,
      );
    }
  }
  const med = (k: keyof typeof runs) => median(runs[k].map((x) => x.seconds));
  const spread = (k: keyof typeof runs) => {
    const secs = runs[k].map((x) => x.seconds);
    return `${num(Math.min(...secs), 2)}–${num(Math.max(...secs), 2)}`;
  };
  const createdAt = (k: 'raw' | 'bosun') => {
    const spans = runs[k].flatMap((x) => (x.created ? [x.created] : []));
    return `${num(median(spans.map((c) => c.first)), 2)} / ${num(median(spans.map((c) => c.last)), 2)}`;
  };
  const hmed = (k: keyof typeof runs) => median(healthyRuns[k].map((x) => x.seconds));
  const raw = med('raw');
  const swarm = med('swarm');
  const bos = med('bosun');
  const medianRun = (k: keyof typeof runs): Run => {
    const sorted = [...runs[k]].sort((x, y) => x.seconds - y.seconds);
    return sorted[Math.floor((sorted.length - 1) / 2)] as Run;
  };
  const how =
    mode === 'service'
      ? `CreateService desiredCount ${REPLICAS}`
      : `RunTask count 10 ×${Math.ceil(REPLICAS / 10)}`;
  const rows: Row[] = [
    {
      metric: 'bosun / raw dockerode',
      value: `${num(bos / raw, 2)}×`,
      target: `≤ ${RAW_TARGET}×`,
      met: bos / raw <= RAW_TARGET,
      note: `bosun ${num(bos, 2)} s (${how}), raw ${num(raw, 2)} s (concurrency ${best})`,
    },
    {
      metric: 'swarm / bosun',
      value: `${num(swarm / bos, 2)}×`,
      target: `≥ ${SWARM_TARGET}× (bosun 2× faster)`,
      met: swarm / bos >= SWARM_TARGET,
      note: `swarm ${num(swarm, 2)} s`,
    },
    {
      metric: `median time to ${REPLICAS} running: raw / swarm / bosun`,
      value: `${num(raw, 2)} / ${num(swarm, 2)} / ${num(bos, 2)} s`,
      note: `${RUNS} alternating runs each; raw concurrency ${Object.entries(calibration)
        .map(([c, s]) => `${c}: ${num(s, 2)} s`)
        .join(', ')}; range over the rounds: raw ${spread('raw')}, bosun ${spread('bosun')} s`,
    },
    {
      metric: 'first / last container created (medians, after the run began)',
      value: `raw ${createdAt('raw')} s; bosun ${createdAt('bosun')} s`,
      note: `Docker's \`Created\`; bosun's run begins with ${how}, so its first create includes placement, the agent's long-poll answer and its first Docker calls`,
    },
  ];
  if (mode === 'service') {
    const [hraw, hswarm, hbos] = [hmed('raw'), hmed('swarm'), hmed('bosun')];
    rows.push(
      {
        metric: 'HEALTHY variant: bosun / raw dockerode',
        value: `${num(hbos / hraw, 2)}×`,
        target: `≤ ${RAW_TARGET}×`,
        met: hbos / hraw <= RAW_TARGET,
        note: `until all ${REPLICAS} report healthy (check \`${HEALTH.command}\` every ${HEALTH.intervalSeconds} s, first probe one interval after start): bosun ${num(hbos, 2)} s, raw ${num(hraw, 2)} s`,
      },
      {
        metric: 'HEALTHY variant: swarm / bosun',
        value: `${num(hswarm / hbos, 2)}×`,
        target: `≥ ${SWARM_TARGET}×`,
        met: hswarm / hbos >= SWARM_TARGET,
        note: `swarm ${num(hswarm, 2)} s; ${RUNS} alternating runs each`,
      },
    );
  }
  const svg = lineChart({
    title: `${REPLICAS} containers to running (median run of each)`,
    xLabel: 'seconds since the request',
    yLabel: 'running',
    step: true,
    series: [
      { name: `raw dockerode (c=${best})`, points: medianRun('raw').curve },
      { name: 'Docker Swarm', points: medianRun('swarm').curve },
      { name: `bosun (${mode})`, points: medianRun('bosun').curve },
    ],
  });
  report(
    'convergence',
    `convergence (${REPLICAS} containers, ${RUNS} runs each, median)`,
    rows,
    { replicas: REPLICAS, runs, healthyRuns, calibration, bestConcurrency: best, mode },
    { 'convergence.svg': svg },
  );
});
