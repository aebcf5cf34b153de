import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import {
  describeService,
  type Stack,
  type StackAgent,
  startStack,
  startTestHosts,
  type TestHosts,
  waitUntil as waitUntilShared,
} from '@bosun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CuttableProxy, startCuttableProxy } from './cuttable-proxy.ts';
import { measureTasks, recordFigures, seconds } from './figures.ts';

/**
 * Fault scenarios 1, 4 and 5 on three real Docker hosts with a service of 6: a container killed,
 * an agent cut off from the control plane and healed (fencing), a whole host stopped. The count of
 * running containers is read from Docker itself on every host, not only from bosun.
 */
const run = promisify(execFile);
const DESIRED = 6;
let hosts: TestHosts;
let stack: Stack;
let proxy: CuttableProxy;
let agents: StackAgent[];

async function runningOn(n: number): Promise<string[]> {
  const env = { ...process.env, DOCKER_HOST: hosts.dockerHost(n) };
  const { stdout } = await run(
    'docker',
    [
      'ps',
      '-q',
      '--filter',
      'label=com.amazonaws.ecs.task-definition-family=steady',
      '--filter',
      'status=running',
    ],
    { env },
  ).catch(() => ({ stdout: '' }));
  return stdout.split('\n').filter(Boolean);
}

async function runningPerHost(): Promise<number[]> {
  return Promise.all([1, 2, 3].map(async (n) => (await runningOn(n)).length));
}

const service = () => describeService(stack, 'steady');

/** As the stack's, with the per-host count from Docker in the message. */
const waitUntil = (what: string, ok: () => Promise<boolean>, timeoutMs = 60_000) =>
  waitUntilShared(
    what,
    ok,
    timeoutMs,
    async () => `; Docker per host: ${JSON.stringify(await runningPerHost())}`,
  );

/** Lost and duplicates of the service, from Postgres' tasks and every host's Docker. */
const measured = () =>
  measureTasks(
    stack.aws,
    ['--service-name', 'steady'],
    [1, 2, 3].map((n) => hosts.dockerHost(n)),
  );

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

async function instanceConnected(agent: StackAgent): Promise<boolean> {
  const out = (await stack.aws(
    'describe-container-instances',
    '--container-instances',
    agent.instanceId(),
  )) as {
    containerInstances: { agentConnected: boolean }[];
  };
  return out.containerInstances[0]?.agentConnected ?? false;
}

beforeAll(async () => {
  hosts = await startTestHosts(3);
  stack = await startStack({ noAgent: true });
  proxy = await startCuttableProxy(new URL(stack.server.clientEnv.AWS_ENDPOINT_URL_ECS ?? ''));
  agents = [];
  for (const n of [1, 2, 3]) {
    agents.push(
      await stack.addAgent({
        DOCKER_HOST: hosts.dockerHost(n),
        BOSUN_ZONE: `zone-${n}`,
        BOSUN_HOSTNAME: `fault-h${n}`,
        // Host 2 reaches the control plane through a proxy the test can cut.
        ...(n === 2 ? { BOSUN_CONTROL_PLANE_URL: proxy.url } : {}),
      }),
    );
  }
  await stack.registerBusybox('steady');
  await stack.aws(
    'create-service',
    '--service-name',
    'steady',
    '--task-definition',
    'steady',
    '--desired-count',
    String(DESIRED),
  );
  await waitUntil(
    'the service to run on Docker',
    async () => sum(await runningPerHost()) === DESIRED,
    90_000,
  );
  await stack.aws('wait', 'services-stable', '--services', 'steady');
}, 240_000);

afterAll(async () => {
  await proxy?.close();
  if (stack) {
    await stack.aws('delete-service', '--service', 'steady', '--force').catch(() => undefined);
    await stack.close();
  }
  await hosts?.down();
}, 240_000);

describe('fault suite: tasks, agents and hosts failing under a service', () => {
  it('1. kill -9 a task’s container: a replacement runs', async () => {
    const [victim] = await runningOn(1);
    expect(victim).toBeTruthy();
    const started = Date.now();
    await run('docker', ['kill', '-s', 'KILL', victim ?? ''], {
      env: { ...process.env, DOCKER_HOST: hosts.dockerHost(1) },
    });
    await waitUntil(
      'a replacement',
      async () => sum(await runningPerHost()) === DESIRED && (await service()).runningCount === DESIRED,
    );
    const recovery = Date.now() - started;
    recordFigures({
      scenario: '1. container kill -9',
      recoverySeconds: seconds(recovery),
      ...(await measured()),
    });
    expect(sum(await runningPerHost())).toBe(DESIRED);
  }, 90_000);

  it('5. an agent cut off from the control plane: replaced while cut, exactly the desired count after healing', async () => {
    const cutAgent = agents[1] as StackAgent;
    const onCutHost = (await runningOn(2)).length;
    expect(onCutHost).toBeGreaterThan(0);
    const started = Date.now();
    await proxy.cut();
    await waitUntil(
      'the cut agent to show disconnected',
      async () => !(await instanceConnected(cutAgent)),
      60_000,
    );
    const detected = Date.now() - started;
    // Its containers keep running (no self-inflicted outage) while replacements start elsewhere.
    await waitUntil('replacements on the other hosts', async () => {
      const [h1, , h3] = await runningPerHost();
      return (h1 ?? 0) + (h3 ?? 0) === DESIRED;
    });
    const replaced = Date.now() - started;
    expect((await runningOn(2)).length).toBe(onCutHost);

    await proxy.heal();
    // Fencing: the returning agent learns its tasks were replaced and stops them.
    await waitUntil(
      'the fenced host to stop its replaced tasks',
      async () => (await runningOn(2)).length === 0,
      60_000,
    );
    await sleep(3000);
    const after = await runningPerHost();
    recordFigures({
      scenario: '5. agent cut off, healed',
      detectionSeconds: seconds(detected),
      recoverySeconds: seconds(replaced),
      ...(await measured()),
    });
    expect(sum(after)).toBe(DESIRED);
    expect(await instanceConnected(cutAgent)).toBe(true);
  }, 150_000);

  it('4. a whole Docker host stops: its tasks run on the other hosts', async () => {
    const downAgent = agents[2] as StackAgent;
    const onHost = (await runningOn(3)).length;
    expect(onHost).toBeGreaterThan(0);
    const started = Date.now();
    await downAgent.stop('SIGKILL');
    await hosts.stopHost(3);
    await waitUntil('host 3 to show disconnected', async () => !(await instanceConnected(downAgent)), 60_000);
    const detected = Date.now() - started;
    await waitUntil('all tasks on hosts 1 and 2', async () => {
      const [h1, h2] = await runningPerHost();
      return (h1 ?? 0) + (h2 ?? 0) === DESIRED && (await service()).runningCount === DESIRED;
    });
    const recovered = Date.now() - started;

    // The host comes back: the service stays at exactly its desired count.
    await hosts.startHost(3);
    await downAgent.start();
    await waitUntil('host 3 to reconnect', () => instanceConnected(downAgent), 60_000);
    await sleep(5000);
    const after = await runningPerHost();
    recordFigures({
      scenario: '4. whole host stopped',
      detectionSeconds: seconds(detected),
      recoverySeconds: seconds(recovered),
      ...(await measured()),
    });
    expect(sum(after)).toBe(DESIRED);
  }, 150_000);
});
