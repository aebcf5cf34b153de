/**
 * host-loss: how long bosun takes to move a service's tasks off a Docker host that disappears.
 *
 * Three throwaway Docker daemons (scripts/hosts `up 3 --no-agents` in a scratch BOSUN_HOSTS_DIR with a
 * bridge prefix and subnet of its own, through @bosun/testkit (docker-hosts.ts); the main daemon is never
 * touched), one real agent on each, one control-plane process over a scratch database. A service of
 * TASKS tasks of bosun/busybox:latest `sleep 3600`, spread over the instances. Then host 3 goes away:
 * its agent gets SIGKILL and `scripts/hosts stop-host 3` stops its dockerd. The clock runs from the
 * SIGKILL until Docker on hosts 1 and 2 shows all TASKS running (and, separately, until
 * DescribeServices runningCount is back at TASKS, and until DescribeContainerInstances shows host 3
 * disconnected).
 *
 * Two settings of the control plane, each on fresh hosts and a fresh control plane, RUNS times:
 *   default — BOSUN_AGENT_TIMEOUT_SECONDS 10, BOSUN_HEARTBEAT_INTERVAL_SECONDS 2, BOSUN_SERVICE_SWEEP_SECONDS 5
 *   tuned   — BOSUN_AGENT_TIMEOUT_SECONDS 3, BOSUN_HEARTBEAT_INTERVAL_SECONDS 0.5, BOSUN_SERVICE_SWEEP_SECONDS 1
 * The floor is the agent timeout itself (bosun cannot tell a dead host from a slow one sooner); the note
 * shows the time past it.
 *
 * Everything (agents, control plane, `scripts/hosts down --purge`, the scratch database) is undone on
 * success, failure and Ctrl-C.
 *
 *   node --import tsx bench/host-loss.ts [--smoke]      (root: scripts/hosts makes bridges and dockerds)
 */
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { SignedEcsClient, startTestHosts, type TestHosts } from '@bosun/testkit';
import { median, num } from './lib/numbers.ts';
import { type Proc, startAgent, startControlPlane } from './lib/processes.ts';
import { type Row, report } from './lib/report.ts';
import { log, main, onCleanup, SMOKE } from './lib/run.ts';
import { queuePrefix, scratchDatabase, tempDir } from './lib/services.ts';

const execFileP = promisify(execFile);

const TASKS = 12;
const HOSTS = 3;
const LOST = 3;
const RUNS = SMOKE ? 1 : Number(process.env.BOSUN_BENCH_HOST_LOSS_RUNS ?? 3);
const POLL_MS = 100;
const FAMILY = 'steady';
const SERVICE = 'steady';

interface Setting {
  name: 'default' | 'tuned';
  env: Record<string, string>;
  timeoutS: number;
  targetS: number;
}

const SETTINGS: Setting[] = [
  {
    name: 'default',
    env: {
      BOSUN_AGENT_TIMEOUT_SECONDS: '10',
      BOSUN_HEARTBEAT_INTERVAL_SECONDS: '2',
      BOSUN_SERVICE_SWEEP_SECONDS: '5',
    },
    timeoutS: 10,
    targetS: 15,
  },
  {
    name: 'tuned',
    env: {
      BOSUN_AGENT_TIMEOUT_SECONDS: '3',
      BOSUN_HEARTBEAT_INTERVAL_SECONDS: '0.5',
      BOSUN_SERVICE_SWEEP_SECONDS: '1',
    },
    timeoutS: 3,
    targetS: 5,
  },
];

interface Run {
  setting: Setting['name'];
  /** Tasks on each host before host 3 went away. */
  before: number[];
  /** Seconds from the SIGKILL until `scripts/hosts stop-host` returned (dockerd and its containers gone). */
  stopHostSeconds: number;
  /** Seconds from the SIGKILL until DescribeContainerInstances showed host 3 disconnected. */
  detectedSeconds: number;
  /** … until Docker on hosts 1 and 2 showed all TASKS running. */
  dockerSeconds: number;
  /** … until that and runningCount === TASKS. */
  serviceSeconds: number;
  after: number[];
}

async function runningOn(hosts: TestHosts, n: number): Promise<number> {
  try {
    const { stdout } = await execFileP(
      'docker',
      [
        'ps',
        '-q',
        '--filter',
        `label=com.amazonaws.ecs.task-definition-family=${FAMILY}`,
        '--filter',
        'status=running',
      ],
      { env: { ...process.env, DOCKER_HOST: hosts.dockerHost(n) }, timeout: 10_000 },
    );
    return stdout.split('\n').filter(Boolean).length;
  } catch {
    return 0; // a stopped host
  }
}

const perHost = (hosts: TestHosts, ns: number[]) => Promise.all(ns.map((n) => runningOn(hosts, n)));
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

async function oneRun(setting: Setting, r: number): Promise<Run> {
  const tag = `host-loss-${setting.name}-${r}`;
  log(`${tag}: scripts/hosts up ${HOSTS} --no-agents`);
  const hosts = await startTestHosts(HOSTS);
  const downHosts = onCleanup(`${tag}: scripts/hosts down --purge`, () => hosts.down());
  const procs: Proc[] = [];
  try {
    const cp = await startControlPlane(`${tag}-control-plane`, {
      databaseUrl: await scratchDatabase(),
      queuePrefix: queuePrefix(),
      env: setting.env,
    });
    procs.push(cp);
    const ecs = new SignedEcsClient(cp.endpoint, cp.key);
    // One token for every host: join tokens are single use unless asked for more.
    const { joinToken } = await ecs.call<{ joinToken: string }>('BosunV1.CreateJoinToken', { uses: HOSTS });
    const agents: Proc[] = [];
    for (let n = 1; n <= HOSTS; n++) {
      const agent = await startAgent(`${tag}-agent-h${n}`, {
        BOSUN_CONTROL_PLANE_URL: cp.endpoint,
        BOSUN_JOIN_TOKEN: joinToken,
        BOSUN_AGENT_STATE_DIR: tempDir(`bosun-bench-${tag}-h${n}-`),
        BOSUN_HOSTNAME: `bench-h${n}`,
        BOSUN_ZONE: `zone-${n}`,
        BOSUN_IMAGE_PULL_BEHAVIOR: 'prefer-cached',
        BOSUN_CONTAINER_STOP_TIMEOUT_SECONDS: '2',
        DOCKER_HOST: hosts.dockerHost(n),
      });
      agents.push(agent);
      procs.push(agent);
    }
    let containerInstanceArns: string[] = [];
    for (const until = Date.now() + 30_000; containerInstanceArns.length < HOSTS; await sleep(200)) {
      if (Date.now() > until) throw new Error(`${tag}: only ${containerInstanceArns.length} instances`);
      ({ containerInstanceArns } = await ecs.call<{ containerInstanceArns: string[] }>(
        'ListContainerInstances',
        {},
      ));
    }
    await ecs.call('RegisterTaskDefinition', {
      family: FAMILY,
      containerDefinitions: [
        {
          name: 'main',
          image: 'bosun/busybox:latest',
          memory: 16,
          command: ['sleep', '3600'],
          stopTimeout: 2,
        },
      ],
    });
    await ecs.call('CreateService', {
      serviceName: SERVICE,
      taskDefinition: FAMILY,
      desiredCount: TASKS,
      placementStrategy: [{ type: 'spread', field: 'instanceId' }],
    });
    const runningCount = async () => {
      const { services } = await ecs.call<{ services: { runningCount: number }[] }>('DescribeServices', {
        services: [SERVICE],
      });
      return services[0]?.runningCount ?? -1;
    };
    const all = [1, 2, 3];
    let deadline = Date.now() + 120_000;
    let before = await perHost(hosts, all);
    while (sum(before) !== TASKS || (await runningCount()) !== TASKS) {
      if (Date.now() > deadline) throw new Error(`${tag}: never ${TASKS} running: ${JSON.stringify(before)}`);
      await sleep(250);
      before = await perHost(hosts, all);
    }
    if (Math.min(...before) === 0) throw new Error(`${tag}: not spread over the ${HOSTS} hosts: ${before}`);
    // Two heartbeats' worth of quiet so every instance is fresh when the clock starts.
    await sleep(3000);
    log(`${tag}: ${TASKS} running per host ${JSON.stringify(before)}; stopping host ${LOST}`);

    // The instance of the host that is lost, by its zone attribute (BOSUN_ZONE).
    const lostArn = await (async () => {
      const { containerInstances: cis } = await ecs.call<{
        containerInstances: {
          containerInstanceArn: string;
          agentConnected: boolean;
          attributes?: { name: string; value?: string }[];
        }[];
      }>('DescribeContainerInstances', { containerInstances: containerInstanceArns });
      const hit = cis.find((c) =>
        c.attributes?.some((a) => a.name === 'bosun.zone' && a.value === `zone-${LOST}`),
      );
      return hit?.containerInstanceArn;
    })();
    if (!lostArn) log(`${tag}: host ${LOST}'s instance not found by zone; no detection time`);

    const t0 = performance.now();
    const lostAgent = agents[LOST - 1] as Proc;
    await lostAgent.stop('SIGKILL');
    // stop-host (dockerd stopping its containers) takes seconds; the clock is read while it runs.
    let stopHostSeconds = Number.NaN;
    const stopping = hosts.stopHost(LOST).then(() => {
      stopHostSeconds = (performance.now() - t0) / 1000;
    });
    stopping.catch(() => undefined);
    deadline = Date.now() + 90_000;
    let detectedSeconds = Number.NaN;
    let dockerSeconds = Number.NaN;
    let serviceSeconds = Number.NaN;
    let after: number[] = [];
    while (Number.isNaN(dockerSeconds) || Number.isNaN(serviceSeconds)) {
      if (Date.now() > deadline) {
        throw new Error(`${tag}: not all ${TASKS} on hosts 1 and 2 in time: ${JSON.stringify(after)}`);
      }
      const [rest, count, connected] = await Promise.all([
        perHost(hosts, [1, 2]),
        runningCount(),
        Number.isNaN(detectedSeconds) && lostArn
          ? ecs
              .call<{ containerInstances: { agentConnected: boolean }[] }>('DescribeContainerInstances', {
                containerInstances: [lostArn],
              })
              .then((o) => o.containerInstances[0]?.agentConnected ?? true)
          : Promise.resolve(true),
      ]);
      const t = (performance.now() - t0) / 1000;
      after = rest;
      if (Number.isNaN(detectedSeconds) && !connected) detectedSeconds = t;
      if (Number.isNaN(dockerSeconds) && sum(rest) === TASKS) dockerSeconds = t;
      if (!Number.isNaN(dockerSeconds) && Number.isNaN(serviceSeconds) && count === TASKS) serviceSeconds = t;
      await sleep(POLL_MS);
    }
    await stopping;
    log(
      `${tag}: host stopped ${num(stopHostSeconds, 2)} s, detected ${num(detectedSeconds, 2)} s, all ${TASKS} on hosts 1+2 (Docker) ${num(dockerSeconds, 2)} s, runningCount ${num(serviceSeconds, 2)} s`,
    );
    // A moment later: still exactly TASKS, none duplicated.
    await sleep(2000);
    after = await perHost(hosts, [1, 2]);
    await ecs.call('DeleteService', { service: SERVICE, force: true }).catch(() => undefined);
    return {
      setting: setting.name,
      before,
      stopHostSeconds,
      detectedSeconds,
      dockerSeconds,
      serviceSeconds,
      after,
    };
  } finally {
    for (const p of procs.reverse()) await p.stop('SIGTERM').catch(() => undefined);
    await downHosts();
  }
}

main(async () => {
  const runs: Run[] = [];
  for (let r = 0; r < RUNS; r++) {
    for (const setting of SETTINGS) runs.push(await oneRun(setting, r));
  }
  const rows: Row[] = [];
  for (const s of SETTINGS) {
    const mine = runs.filter((x) => x.setting === s.name);
    const docker = median(mine.map((x) => x.dockerSeconds));
    const service = median(mine.map((x) => x.serviceSeconds));
    const detected = median(mine.map((x) => x.detectedSeconds));
    const worst = Math.max(...mine.map((x) => x.dockerSeconds));
    rows.push({
      metric: `host lost → all ${TASKS} running on the other 2 hosts (Docker), ${s.name}`,
      value: `${num(docker, 1)} s`,
      target: `≤ ${s.targetS} s`,
      met: worst <= s.targetS,
      note: `${Object.entries(s.env)
        .map(([k, v]) => `${k.replace('BOSUN_', '').replace('_SECONDS', '')} ${v}`)
        .join(
          ', ',
        )} s; median of ${mine.length} (max ${num(worst, 1)} s); host 3 detected disconnected ${num(detected, 1)} s (stop-host returned ${num(median(mine.map((x) => x.stopHostSeconds)), 1)} s); runningCount ${TASKS} at ${num(service, 1)} s; ${num(docker - s.timeoutS, 1)} s past the agent timeout`,
    });
  }
  const extra = runs.map((x) => sum(x.after) - TASKS);
  rows.push({
    metric: 'duplicated / lost tasks after recovery',
    value: `${Math.max(0, ...extra)} / ${Math.max(0, ...extra.map((e) => -e))}`,
    target: '0 / 0',
    met: extra.every((e) => e === 0),
    note: `all ${runs.length} runs; per host before the loss: ${runs.map((x) => x.before.join('+')).join(', ')}`,
  });
  report(
    'host-loss',
    `host-loss (service of ${TASKS} over ${HOSTS} hosts, ${RUNS} run(s) per setting)`,
    rows,
    {
      tasks: TASKS,
      hosts: HOSTS,
      settings: SETTINGS,
      runs,
    },
  );
});
