/**
 * agent-footprint: one real agent (apps/agent/src/main.ts, as scripts/up starts it) with 20 running
 * tasks of bosun/busybox:latest `sleep`, on the local Docker daemon (DOCKER_HOST honoured). After the
 * tasks are RUNNING and a settling pause, the agent's RSS and CPU are read from /proc over 30 s.
 *
 * Baseline, measured in the same run: an idle `node --import tsx` process doing nothing (the floor
 * any TypeScript process started this way pays), and the same agent before it had any task.
 *
 *   node --import tsx bench/agent-footprint.ts [--smoke]
 */
import { statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { agentBundle, log, main, num, ProcessSampler, type Row, report, SMOKE, spawnLogged } from './lib.ts';
import { startBosun, waitAllRunning } from './stack.ts';

const TASKS = SMOKE ? 4 : 20;
const WINDOW_S = SMOKE ? 3 : 30;
const SETTLE_S = SMOKE ? 1 : 10;
const RSS_TARGET_MB = 80;
const CPU_TARGET = 1;
/** BOSUN_AGENT_BUNDLE=1: also measure the agent bundled by esbuild and run with plain node. */
const BUNDLE = ['1', 'true', 'yes'].includes(process.env.BOSUN_AGENT_BUNDLE ?? '');
/** NODE_OPTIONS for the bundled agent only (e.g. `--max-semi-space-size=2`, a smaller young generation). */
const BUNDLE_NODE_OPTIONS = process.env.BOSUN_AGENT_BUNDLE_NODE_OPTIONS ?? '';
/** Packages the bundle replaces by an empty module, comma-separated (e.g. `@grpc/grpc-js,@grpc/proto-loader,ssh2`). */
const BUNDLE_STUBS = (process.env.BOSUN_AGENT_BUNDLE_STUBS ?? '').split(',').filter(Boolean);

main(async () => {
  const floor = spawnLogged(
    'footprint-idle-node',
    ['--import', 'tsx', '-e', 'setInterval(() => {}, 1000)'],
    {},
  );
  const bare = spawnLogged('footprint-bare-node', ['-e', 'setInterval(() => {}, 1000)'], {});
  const bosun = await startBosun({ name: 'footprint' });
  await bosun.registerSleep('sleep');

  log(`agent pid ${bosun.agent.pid}: idle with no task for ${WINDOW_S / 3} s`);
  await sleep(SETTLE_S * 1000);
  const empty = new ProcessSampler(bosun.agent.pid);
  await sleep((WINDOW_S / 3) * 1000);
  const noTasks = empty.stop();

  const arns: string[] = [];
  for (let left = TASKS; left > 0; left -= 10)
    arns.push(...(await bosun.runTask('sleep', Math.min(10, left))));
  await waitAllRunning(bosun, arns);
  log(`${arns.length} tasks RUNNING; settling ${SETTLE_S} s, then measuring ${WINDOW_S} s`);
  await sleep(SETTLE_S * 1000);
  const agentSampler = new ProcessSampler(bosun.agent.pid);
  const floorSampler = new ProcessSampler(floor.pid);
  const bareSampler = new ProcessSampler(bare.pid);
  const cpSampler = new ProcessSampler(bosun.cp.pid);
  await sleep(WINDOW_S * 1000);
  const agent = agentSampler.stop();
  const idle = floorSampler.stop();
  const bareIdle = bareSampler.stop();
  const cp = cpSampler.stop();
  const still = await bosun.statuses(arns);
  const running = [...still.values()].filter((s) => s === 'RUNNING').length;

  if (running !== TASKS) throw new Error(`only ${running} of ${TASKS} tasks still RUNNING after the window`);

  // BOSUN_AGENT_BUNDLE=1: the same measurement again, with the agent bundled by esbuild and run by plain
  // node (no tsx loader), after the first stack is gone.
  let bundled: Awaited<ReturnType<typeof measureBundled>> | undefined;
  if (BUNDLE) {
    await bosun.agent.stop();
    bosun.removeContainers();
    await bosun.cp.stop();
    bundled = await measureBundled();
  }

  const rows: Row[] = [
    {
      metric: `agent RSS, ${TASKS} tasks RUNNING`,
      value: `${num(agent.rssMb, 1)} MB`,
      target: `≤ ${RSS_TARGET_MB} MB`,
      met: agent.peakRssMb <= RSS_TARGET_MB,
      note: `peak in window ${num(agent.peakRssMb, 1)} MB; ${num(agent.rssMb / idle.rssMb, 2)}× the idle-node baseline`,
    },
    {
      metric: `agent CPU over ${WINDOW_S} s, ${TASKS} tasks`,
      value: `${num(agent.cpuPercent, 2)} %`,
      target: `< ${CPU_TARGET} %`,
      met: agent.cpuPercent < CPU_TARGET,
      note: `${num(agent.cpuSeconds, 2)} CPU-s; baseline idle node ${num(idle.cpuPercent, 2)} %`,
    },
    {
      metric: 'agent with no task (same process, before)',
      value: `${num(noTasks.rssMb, 1)} MB, ${num(noTasks.cpuPercent, 2)} %`,
      note: `RSS with ${TASKS} tasks = ${num(agent.rssMb / noTasks.rssMb, 2)}× this`,
    },
    {
      metric: 'baseline: idle `node --import tsx` process',
      value: `${num(idle.rssMb, 1)} MB, ${num(idle.cpuPercent, 2)} %`,
      note: `plain \`node -e\` without tsx: ${num(bareIdle.rssMb, 1)} MB (tsx's loader costs ${num(idle.rssMb - bareIdle.rssMb, 1)} MB)`,
    },
    {
      metric: 'control plane in the same window (1 agent)',
      value: `${num(cp.rssMb, 1)} MB, ${num(cp.cpuPercent, 2)} %`,
      note: `tasks still RUNNING at the end: ${running}/${TASKS}`,
    },
  ];
  if (bundled) {
    rows.push(
      {
        metric: `agent RSS, ${TASKS} tasks RUNNING, bundled (esbuild, plain \`node\`)`,
        value: `${num(bundled.agent.rssMb, 1)} MB`,
        target: `≤ ${RSS_TARGET_MB} MB`,
        met: bundled.agent.peakRssMb <= RSS_TARGET_MB,
        note: `peak in window ${num(bundled.agent.peakRssMb, 1)} MB; ${num(bundled.agent.rssMb / agent.rssMb, 2)}× the tsx agent above; bundle ${num(bundled.bundleKb)} kB${BUNDLE_NODE_OPTIONS ? `; NODE_OPTIONS=${BUNDLE_NODE_OPTIONS}` : ''}${BUNDLE_STUBS.length ? `; stubbed: ${BUNDLE_STUBS.join(', ')}` : ''}`,
      },
      {
        metric: `agent CPU over ${WINDOW_S} s, ${TASKS} tasks, bundled`,
        value: `${num(bundled.agent.cpuPercent, 2)} %`,
        target: `< ${CPU_TARGET} %`,
        met: bundled.agent.cpuPercent < CPU_TARGET,
        note: `no task: ${num(bundled.noTasks.rssMb, 1)} MB, ${num(bundled.noTasks.cpuPercent, 2)} %`,
      },
    );
  }
  report('agent-footprint', `agent-footprint (${TASKS} tasks, ${WINDOW_S} s window)`, rows, {
    tasks: TASKS,
    windowSeconds: WINDOW_S,
    agent: { ...agent, samples: agentSampler.samples },
    agentNoTasks: noTasks,
    idleNode: idle,
    bareNode: bareIdle,
    controlPlane: cp,
    ...(bundled ? { bundled } : {}),
  });
});

/** The agent from agentBundle() under plain node, measured exactly like the tsx agent. */
async function measureBundled() {
  const bundle = agentBundle({ stub: BUNDLE_STUBS });
  const bundleKb = statSync(bundle).size / 1024;
  const bosun = await startBosun({
    name: 'footprint-bundled',
    agentBundle: bundle,
    ...(BUNDLE_NODE_OPTIONS ? { agentEnv: { NODE_OPTIONS: BUNDLE_NODE_OPTIONS } } : {}),
  });
  await bosun.registerSleep('sleep');
  log(`bundled agent pid ${bosun.agent.pid} (${bundle}): idle with no task for ${WINDOW_S / 3} s`);
  await sleep(SETTLE_S * 1000);
  const empty = new ProcessSampler(bosun.agent.pid);
  await sleep((WINDOW_S / 3) * 1000);
  const noTasks = empty.stop();
  const arns: string[] = [];
  for (let left = TASKS; left > 0; left -= 10)
    arns.push(...(await bosun.runTask('sleep', Math.min(10, left))));
  await waitAllRunning(bosun, arns);
  log(`bundled: ${arns.length} tasks RUNNING; settling ${SETTLE_S} s, then measuring ${WINDOW_S} s`);
  await sleep(SETTLE_S * 1000);
  const sampler = new ProcessSampler(bosun.agent.pid);
  await sleep(WINDOW_S * 1000);
  const agent = sampler.stop();
  const still = await bosun.statuses(arns);
  const running = [...still.values()].filter((s) => s === 'RUNNING').length;
  if (running !== TASKS) throw new Error(`bundled: only ${running} of ${TASKS} tasks still RUNNING`);
  return { agent: { ...agent, samples: sampler.samples }, noTasks, bundleKb };
}
