/**
 * bosun as scripts/up runs it, for the benchmarks that need real Docker: one control-plane process
 * over a scratch database and its own BullMQ prefix, and one real agent on a Docker daemon. Everything
 * is undone at clean-up, containers included (only this agent's, found by its bosun.instance-id label).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { agentInstanceId, SignedEcsClient } from '@bosun/testkit';
import { dockerCli } from './lib/docker.ts';
import { type ControlPlane, type Proc, startAgent, startControlPlane } from './lib/processes.ts';
import { onCleanup } from './lib/run.ts';
import { queuePrefix, scratchDatabase, tempDir } from './lib/services.ts';

export interface Bosun {
  cp: ControlPlane;
  ecs: SignedEcsClient;
  agent: Proc;
  instanceId: string;
  /** A one-container task definition of bosun/busybox:latest running `sleep 3600`. */
  /** A `sleep 3600` task definition; with a Docker-native healthCheck when given. */
  registerSleep(family: string, healthCheck?: Record<string, unknown>): Promise<void>;
  /** RunTask; returns the task ARNs. */
  runTask(family: string, count: number): Promise<string[]>;
  /** lastStatus per task ARN (DescribeTasks, 100 per call). */
  statuses(arns: readonly string[]): Promise<Map<string, string>>;
  /** Removes this agent's containers now (also done at clean-up). */
  removeContainers(): void;
}

export async function startBosun(o: {
  name: string;
  dockerHost?: string;
  agentEnv?: Record<string, string>;
  /** Run the agent from this bundle (lib/processes.ts agentBundle()) with plain node instead of tsx. */
  agentBundle?: string;
}): Promise<Bosun> {
  const databaseUrl = await scratchDatabase();
  const prefix = queuePrefix();
  const cp = await startControlPlane(`${o.name}-control-plane`, { databaseUrl, queuePrefix: prefix });
  const ecs = new SignedEcsClient(cp.endpoint, cp.key);
  const { joinToken } = await ecs.call<{ joinToken: string }>('BosunV1.CreateJoinToken', {});
  const agentDir = tempDir(`bosun-bench-${o.name}-agent-`);
  const dockerHost = o.dockerHost ?? process.env.DOCKER_HOST;
  const instanceIdOf = () => agentInstanceId(agentDir);
  const removeContainers = () => {
    const id = instanceIdOf();
    if (!id) return;
    const ids = dockerCli(dockerHost, ['ps', '-aq', '--filter', `label=bosun.instance-id=${id}`])
      .split('\n')
      .filter(Boolean);
    if (ids.length > 0) dockerCli(dockerHost, ['rm', '-f', '-v', ...ids]);
  };
  // Registered before the agent, so it runs after the agent has stopped.
  onCleanup(`${o.name}: remove the agent's containers`, removeContainers);
  const agent = await startAgent(
    `${o.name}-agent`,
    {
      BOSUN_CONTROL_PLANE_URL: cp.endpoint,
      BOSUN_JOIN_TOKEN: joinToken,
      BOSUN_AGENT_STATE_DIR: agentDir,
      BOSUN_HOSTNAME: `bench-${o.name}`,
      // The image is local (scripts/build-images); raw Docker and Swarm do not pull it either.
      BOSUN_IMAGE_PULL_BEHAVIOR: 'prefer-cached',
      BOSUN_CONTAINER_STOP_TIMEOUT_SECONDS: '2',
      ...(dockerHost ? { DOCKER_HOST: dockerHost } : {}),
      ...o.agentEnv,
    },
    o.agentBundle,
  );
  // The agent logs its registration and then writes agent.json.
  let instanceId = instanceIdOf();
  for (let i = 0; i < 100 && !instanceId; i++) {
    await sleep(100);
    instanceId = instanceIdOf();
  }
  if (!instanceId) throw new Error('the agent wrote no agent.json');

  return {
    cp,
    ecs,
    agent,
    instanceId,
    async registerSleep(family, healthCheck) {
      await ecs.call('RegisterTaskDefinition', {
        family,
        containerDefinitions: [
          {
            name: 'main',
            image: 'bosun/busybox:latest',
            memory: 16,
            command: ['sleep', '3600'],
            stopTimeout: 2,
            ...(healthCheck ? { healthCheck } : {}),
          },
        ],
      });
    },
    async runTask(family, count) {
      const out = await ecs.call<{ tasks: { taskArn: string }[]; failures: unknown[] }>('RunTask', {
        taskDefinition: family,
        count,
      });
      if (out.tasks.length !== count)
        throw new Error(`RunTask placed ${out.tasks.length} of ${count}: ${JSON.stringify(out.failures)}`);
      return out.tasks.map((t) => t.taskArn);
    },
    async statuses(arns) {
      const out = new Map<string, string>();
      for (let i = 0; i < arns.length; i += 100) {
        const { tasks } = await ecs.call<{ tasks: { taskArn: string; lastStatus: string }[] }>(
          'DescribeTasks',
          { tasks: arns.slice(i, i + 100) },
        );
        for (const t of tasks) out.set(t.taskArn, t.lastStatus);
      }
      return out;
    },
    removeContainers,
  };
}

/** Polls until every task is RUNNING; throws if one stops or the time runs out. */
export async function waitAllRunning(
  bosun: Bosun,
  arns: readonly string[],
  timeoutMs = 120_000,
  everyMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const statuses = await bosun.statuses(arns);
    const running = [...statuses.values()].filter((s) => s === 'RUNNING').length;
    if (running === arns.length) return;
    if ([...statuses.values()].includes('STOPPED')) throw new Error('a task stopped while starting');
    if (Date.now() > deadline) throw new Error(`only ${running} of ${arns.length} tasks RUNNING in time`);
    await sleep(everyMs);
  }
}
