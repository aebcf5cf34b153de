import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { type Stack, type StackAgent, startStack, startTestHosts, type TestHosts } from '@bosun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Issue 4 as a new user tries it: services through the `aws` CLI on two real Docker hosts, each with
 * its own agent. Counts are checked in Docker itself as well as in bosun's answers.
 */
const run = promisify(execFile);
let hosts: TestHosts;
let stack: Stack;
let agents: StackAgent[];

interface Service {
  serviceName: string;
  desiredCount: number;
  runningCount: number;
  pendingCount: number;
  taskDefinition: string;
  deployments: {
    id: string;
    status: string;
    taskDefinition: string;
    rolloutState?: string;
    runningCount: number;
  }[];
  events: { message: string }[];
}

async function describe1(name: string): Promise<Service> {
  const out = (await stack.aws('describe-services', '--services', name)) as { services: Service[] };
  const s = out.services[0];
  if (!s) throw new Error(`no service ${name}`);
  return s;
}

/** Running containers of a task definition family on host n, from Docker. */
async function runningOn(n: number, family: string): Promise<number> {
  const env = { ...process.env, DOCKER_HOST: hosts.dockerHost(n) };
  const { stdout } = await run(
    'docker',
    [
      'ps',
      '-q',
      '--filter',
      `label=com.amazonaws.ecs.task-definition-family=${family}`,
      '--filter',
      'status=running',
    ],
    { env },
  );
  return stdout.split('\n').filter(Boolean).length;
}

const layout = async (family: string) => [await runningOn(1, family), await runningOn(2, family)];

async function waitFor<T>(
  what: string,
  probe: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await probe();
    if (ok(last)) return last;
    await sleep(500);
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
}

const stable = (name: string) => stack.aws('wait', 'services-stable', '--services', name);

function webDefinition(healthCommand: string): string {
  return JSON.stringify([
    {
      name: 'web',
      image: 'bosun/busybox:latest',
      memory: 32,
      entryPoint: ['sh', '-c'],
      command: ['mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www'],
      portMappings: [{ containerPort: 8080, hostPort: 0 }],
      healthCheck: {
        command: ['CMD-SHELL', healthCommand],
        interval: 5,
        timeout: 2,
        retries: 2,
        startPeriod: 0,
      },
      stopTimeout: 2,
    },
  ]);
}

beforeAll(async () => {
  hosts = await startTestHosts(2);
  stack = await startStack({ noAgent: true });
  agents = [];
  for (const n of [1, 2]) {
    agents.push(
      await stack.addAgent({
        DOCKER_HOST: hosts.dockerHost(n),
        BOSUN_ZONE: `zone-${n}`,
        BOSUN_HOSTNAME: `svc-h${n}`,
        BOSUN_ATTRIBUTES: `disk=${n === 1 ? 'ssd' : 'hdd'}`,
      }),
    );
  }
  const ok = 'wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1';
  await stack.aws(
    'register-task-definition',
    '--family',
    'web',
    '--container-definitions',
    webDefinition(ok),
  );
  await stack.aws(
    'register-task-definition',
    '--family',
    'web',
    '--container-definitions',
    webDefinition(ok),
  );
  await stack.aws(
    'register-task-definition',
    '--family',
    'web',
    '--container-definitions',
    webDefinition('exit 1'),
  );
  await stack.registerBusybox('sleeper');
}, 240_000);

afterAll(async () => {
  if (stack) {
    for (const name of ['web', 'daemon', 'pinned', 'layout', 'packed']) {
      await stack.aws('delete-service', '--service', name, '--force').catch(() => undefined);
    }
    await stack.close();
  }
  await hosts?.down();
}, 240_000);

describe('services on two Docker hosts through the aws CLI', () => {
  it('creates a service of 4 with a health check and reaches a steady state', async () => {
    await stack.aws(
      'create-service',
      '--service-name',
      'web',
      '--task-definition',
      'web:1',
      '--desired-count',
      '4',
    );
    await stable('web');
    // The steady-state event comes once the tasks are also healthy, which may be after the waiter.
    const s = await waitFor(
      'the steady-state event',
      () => describe1('web'),
      (v) => v.events.some((e) => e.message === '(service web) has reached a steady state.'),
      60_000,
    );
    expect(s).toMatchObject({ desiredCount: 4, runningCount: 4 });
    expect(s.deployments).toHaveLength(1);
    expect(s.events.map((e) => e.message)).toContain('(service web) has reached a steady state.');
    expect((await layout('web')).reduce((a, b) => a + b)).toBe(4);
  }, 120_000);

  it('replaces a container killed on its host', async () => {
    const env = { ...process.env, DOCKER_HOST: hosts.dockerHost(1) };
    const { stdout } = await run(
      'docker',
      ['ps', '-q', '--filter', 'label=com.amazonaws.ecs.task-definition-family=web'],
      { env },
    );
    const victim = stdout.split('\n').filter(Boolean)[0];
    expect(victim).toBeTruthy();
    await run('docker', ['kill', victim ?? ''], { env });
    await waitFor(
      'a replacement',
      () => layout('web'),
      (l) => (l[0] ?? 0) + (l[1] ?? 0) === 4,
    );
    await stable('web');
    expect((await describe1('web')).events.some((e) => /has started 1 tasks/.test(e.message))).toBe(true);
  }, 120_000);

  it('rolls out a new revision with min 50 / max 200 without breaking the bounds', async () => {
    await stack.aws(
      'update-service',
      '--service',
      'web',
      '--task-definition',
      'web:2',
      '--deployment-configuration',
      'minimumHealthyPercent=50,maximumPercent=200',
    );
    let maxRunning = 0;
    let minHealthy = Number.POSITIVE_INFINITY;
    const deadline = Date.now() + 120_000;
    for (;;) {
      const s = await describe1('web');
      const inDocker = (await layout('web')).reduce((a, b) => a + b);
      maxRunning = Math.max(maxRunning, inDocker);
      minHealthy = Math.min(minHealthy, s.runningCount);
      if (s.deployments.length === 1 && s.runningCount === 4 && s.taskDefinition.endsWith(':2')) break;
      if (Date.now() > deadline) throw new Error(`rollout did not finish: ${JSON.stringify(s.deployments)}`);
      await sleep(300);
    }
    expect(maxRunning).toBeLessThanOrEqual(8);
    expect(minHealthy).toBeGreaterThanOrEqual(2);
    await stable('web');
  }, 150_000);

  it('rolls back a revision whose containers fail their health check, with the circuit breaker on', async () => {
    await stack.aws(
      'update-service',
      '--service',
      'web',
      '--task-definition',
      'web:3',
      '--deployment-configuration',
      'minimumHealthyPercent=50,maximumPercent=200,deploymentCircuitBreaker={enable=true,rollback=true}',
    );
    const s = await waitFor(
      'the rollback',
      () => describe1('web'),
      (v) =>
        v.events.some((e) => /rolling back|roll(ed)? back/i.test(e.message)) &&
        v.taskDefinition.endsWith(':2'),
      240_000,
    );
    expect(s.taskDefinition).toMatch(/:2$/);
    await stable('web');
    expect((await describe1('web')).runningCount).toBe(4);
  }, 300_000);

  it('drains a host: its tasks move to the other one', async () => {
    const drained = agents[0] as StackAgent;
    await stack.aws(
      'update-container-instances-state',
      '--container-instances',
      drained.instanceId(),
      '--status',
      'DRAINING',
    );
    await waitFor(
      'tasks to leave host 1',
      () => layout('web'),
      (l) => l[0] === 0 && l[1] === 4,
      120_000,
    );
    await stable('web');
    await stack.aws(
      'update-container-instances-state',
      '--container-instances',
      drained.instanceId(),
      '--status',
      'ACTIVE',
    );
  }, 150_000);

  it('runs a DAEMON service on both hosts', async () => {
    await stack.aws(
      'create-service',
      '--service-name',
      'daemon',
      '--task-definition',
      'sleeper',
      '--scheduling-strategy',
      'DAEMON',
    );
    await waitFor(
      'one daemon task per host',
      () => layout('sleeper'),
      (l) => l[0] === 1 && l[1] === 1,
    );
    await stack.aws('delete-service', '--service', 'daemon', '--force');
    await waitFor(
      'the daemon tasks to stop',
      () => layout('sleeper'),
      (l) => l[0] === 0 && l[1] === 0,
    );
  }, 120_000);

  it('places with memberOf on a custom attribute', async () => {
    await stack.aws(
      'create-service',
      '--service-name',
      'pinned',
      '--task-definition',
      'sleeper',
      '--desired-count',
      '3',
      '--placement-constraints',
      'type=memberOf,expression=attribute:disk == hdd',
    );
    await waitFor(
      '3 tasks on the hdd host',
      () => layout('sleeper'),
      (l) => l[0] === 0 && l[1] === 3,
    );
    await stack.aws('delete-service', '--service', 'pinned', '--force');
    await waitFor(
      'the pinned tasks to stop',
      () => layout('sleeper'),
      (l) => l[0] === 0 && l[1] === 0,
    );
  }, 120_000);

  it('scales 4 → 10 → 4 with binpack and with spread, giving the expected layouts', async () => {
    await stack.aws(
      'create-service',
      '--service-name',
      'layout',
      '--task-definition',
      'sleeper',
      '--desired-count',
      '4',
      '--placement-strategy',
      'type=spread,field=instanceId',
    );
    await waitFor(
      'spread 2/2',
      () => layout('sleeper'),
      (l) => l[0] === 2 && l[1] === 2,
    );
    await stack.aws('update-service', '--service', 'layout', '--desired-count', '10');
    await waitFor(
      'spread 5/5',
      () => layout('sleeper'),
      (l) => l[0] === 5 && l[1] === 5,
    );
    await stack.aws('update-service', '--service', 'layout', '--desired-count', '4');
    await waitFor(
      'spread back to 2/2',
      () => layout('sleeper'),
      (l) => l[0] === 2 && l[1] === 2,
    );
    await stack.aws('delete-service', '--service', 'layout', '--force');
    await waitFor(
      'layout stopped',
      () => layout('sleeper'),
      (l) => l[0] === 0 && l[1] === 0,
    );

    await stack.aws(
      'create-service',
      '--service-name',
      'packed',
      '--task-definition',
      'sleeper',
      '--desired-count',
      '4',
      '--placement-strategy',
      'type=binpack,field=memory',
    );
    const packed = await waitFor(
      'binpack on one host',
      () => layout('sleeper'),
      (l) => (l[0] ?? 0) + (l[1] ?? 0) === 4,
    );
    expect(packed.includes(4)).toBe(true);
    await stack.aws('update-service', '--service', 'packed', '--desired-count', '10');
    const ten = await waitFor(
      'binpack 10 on one host',
      () => layout('sleeper'),
      (l) => (l[0] ?? 0) + (l[1] ?? 0) === 10,
    );
    expect(ten.includes(10)).toBe(true);
    await stack.aws('update-service', '--service', 'packed', '--desired-count', '4');
    await waitFor(
      'back to 4',
      () => layout('sleeper'),
      (l) => (l[0] ?? 0) + (l[1] ?? 0) === 4,
    );
    await stack.aws('delete-service', '--service', 'packed', '--force');
  }, 240_000);
});
