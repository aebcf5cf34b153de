/**
 * agent-footprint: one real agent with 20 running tasks of bosun/busybox:latest `sleep`, on the local
 * Docker daemon (DOCKER_HOST honoured). After the tasks are RUNNING and a settling pause, the agent's RSS
 * and CPU are read from /proc over 30 s.
 *
 * The agent measured is the one bosun runs: the esbuild bundle of apps/agent/build.ts (built here by the
 * same function as scripts/build-agent) under plain `node` with its AGENT_NODE_FLAGS, as scripts/up and
 * docker-compose.yml start it. Afterwards, for comparison, the same agent through tsx
 * (`node --import tsx apps/agent/src/main.ts`, as development and the tests run it), measured the same
 * way on a fresh stack.
 *
 * Baseline, measured in the same window as the main agent: an idle bare `node -e` (the floor of any Node
 * process) and an idle `node --import tsx` (the floor of one started through tsx); also the same agent
 * before it had any task.
 *
 *   node --import tsx bench/agent-footprint.ts [--smoke]
 *   BOSUN_BENCH_AGENT_NODE_FLAGS='' …          the bundled agent without (or with other) node flags
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { AGENT_ENV } from '../apps/agent/build.ts';
import { num } from './lib/numbers.ts';
import { ProcessSampler } from './lib/proc.ts';
import { agentBundle, agentNodeFlags, spawnLogged } from './lib/processes.ts';
import { type Row, report } from './lib/report.ts';
import { log, main, SMOKE } from './lib/run.ts';
import { startBosun, waitAllRunning } from './stack.ts';

const TASKS = SMOKE ? 4 : 20;
const WINDOW_S = SMOKE ? 3 : 30;
const SETTLE_S = SMOKE ? 1 : 10;
const RSS_TARGET_MB = 80;
const CPU_TARGET = 1;

type Sample = ReturnType<ProcessSampler['stop']>;

main(async () => {
  const bare = spawnLogged('footprint-bare-node', ['-e', 'setInterval(() => {}, 1000)'], {});
  const idleTsx = spawnLogged(
    'footprint-idle-node-tsx',
    ['--import', 'tsx', '-e', 'setInterval(() => {}, 1000)'],
    {},
  );
  const bundle = await agentBundle();
  const flags = agentNodeFlags();
  const launch = [
    ...Object.entries(AGENT_ENV).map(([k, v]) => `${k}=${v}`),
    'node',
    ...flags,
    'agent.mjs',
  ].join(' ');
  log(`agent bundle ${bundle.file} (${num(bundle.bytes / 1024)} kB), run as \`${launch}\``);

  // The agent as bosun runs it; the two idle processes are sampled in the same window.
  const shipped = await measureAgent('footprint', bundle.file, [bare.pid, idleTsx.pid]);
  const [bareIdle, tsxIdle] = shipped.others as [Sample, Sample];
  // The same agent through tsx, afterwards (shipped's stack is gone by then).
  const tsx = await measureAgent('footprint-tsx', undefined, []);

  const a = shipped.agent;
  const rows: Row[] = [
    {
      metric: `agent RSS, ${TASKS} tasks RUNNING (bundle, plain \`node\`, as scripts/up runs it)`,
      value: `${num(a.rssMb, 1)} MB`,
      target: `≤ ${RSS_TARGET_MB} MB`,
      met: a.peakRssMb <= RSS_TARGET_MB,
      note: `peak in window ${num(a.peakRssMb, 1)} MB; ${num(a.rssMb / bareIdle.rssMb, 2)}× an idle bare \`node\` (${num(bareIdle.rssMb, 1)} MB); ${num(a.rssMb / tsx.agent.rssMb, 2)}× the tsx agent below; \`${launch}\`, ${num(bundle.bytes / 1024)} kB`,
    },
    {
      metric: `agent CPU over ${WINDOW_S} s, ${TASKS} tasks`,
      value: `${num(a.cpuPercent, 2)} %`,
      target: `< ${CPU_TARGET} %`,
      met: a.cpuPercent < CPU_TARGET,
      note: `${num(a.cpuSeconds, 2)} CPU-s; idle bare node ${num(bareIdle.cpuPercent, 2)} %`,
    },
    {
      metric: 'agent with no task (same process, before)',
      value: `${num(shipped.noTasks.rssMb, 1)} MB, ${num(shipped.noTasks.cpuPercent, 2)} %`,
      note: `RSS with ${TASKS} tasks = ${num(a.rssMb / shipped.noTasks.rssMb, 2)}× this`,
    },
    {
      metric: 'baseline: idle bare `node -e` / idle `node --import tsx` (same window)',
      value: `${num(bareIdle.rssMb, 1)} MB / ${num(tsxIdle.rssMb, 1)} MB`,
      note: `tsx's loader alone costs ${num(tsxIdle.rssMb - bareIdle.rssMb, 1)} MB`,
    },
    {
      metric: `same agent through tsx (\`node --import tsx apps/agent/src/main.ts\`), ${TASKS} tasks`,
      value: `${num(tsx.agent.rssMb, 1)} MB`,
      target: `≤ ${RSS_TARGET_MB} MB`,
      met: tsx.agent.peakRssMb <= RSS_TARGET_MB,
      note: `development and tests only; peak ${num(tsx.agent.peakRssMb, 1)} MB; CPU ${num(tsx.agent.cpuPercent, 2)} %; no task ${num(tsx.noTasks.rssMb, 1)} MB`,
    },
    {
      metric: 'control plane in the same window (1 agent)',
      value: `${num(shipped.cp.rssMb, 1)} MB, ${num(shipped.cp.cpuPercent, 2)} %`,
      note: `tasks still RUNNING at the end: ${shipped.running}/${TASKS}`,
    },
  ];
  report('agent-footprint', `agent-footprint (${TASKS} tasks, ${WINDOW_S} s window)`, rows, {
    tasks: TASKS,
    windowSeconds: WINDOW_S,
    bundle: { bytes: bundle.bytes, nodeFlags: flags, env: AGENT_ENV },
    agent: { ...a, samples: shipped.samples },
    agentNoTasks: shipped.noTasks,
    bareNode: bareIdle,
    idleNodeTsx: tsxIdle,
    controlPlane: shipped.cp,
    tsxAgent: { ...tsx.agent, samples: tsx.samples },
    tsxAgentNoTasks: tsx.noTasks,
  });
});

/**
 * One stack (control plane + agent), the agent from `bundle` (plain node) or through tsx: RSS and CPU
 * with no task, then with TASKS running; `others` are sampled in the same window as the agent. The
 * stack is stopped before returning.
 */
async function measureAgent(name: string, bundle: string | undefined, others: number[]) {
  const bosun = await startBosun({ name, ...(bundle ? { agentBundle: bundle } : {}) });
  await bosun.registerSleep('sleep');
  log(`${name}: agent pid ${bosun.agent.pid}, idle with no task for ${WINDOW_S / 3} s`);
  await sleep(SETTLE_S * 1000);
  const empty = new ProcessSampler(bosun.agent.pid);
  await sleep((WINDOW_S / 3) * 1000);
  const noTasks = empty.stop();

  const arns: string[] = [];
  for (let left = TASKS; left > 0; left -= 10)
    arns.push(...(await bosun.runTask('sleep', Math.min(10, left))));
  await waitAllRunning(bosun, arns);
  log(`${name}: ${arns.length} tasks RUNNING; settling ${SETTLE_S} s, then measuring ${WINDOW_S} s`);
  await sleep(SETTLE_S * 1000);
  const sampler = new ProcessSampler(bosun.agent.pid);
  const cpSampler = new ProcessSampler(bosun.cp.pid);
  const otherSamplers = others.map((pid) => new ProcessSampler(pid));
  await sleep(WINDOW_S * 1000);
  const agent = sampler.stop();
  const cp = cpSampler.stop();
  const otherResults = otherSamplers.map((s) => s.stop());
  const still = await bosun.statuses(arns);
  const running = [...still.values()].filter((s) => s === 'RUNNING').length;
  if (running !== TASKS) throw new Error(`${name}: only ${running} of ${TASKS} tasks still RUNNING`);

  await bosun.agent.stop();
  bosun.removeContainers();
  await bosun.cp.stop();
  return { agent, samples: sampler.samples, noTasks, cp, others: otherResults, running };
}
