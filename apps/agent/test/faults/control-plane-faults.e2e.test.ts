import { totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeService, docker, type Stack, type StackAgent, startStack, waitUntil } from '@bosun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureTasks, recordFigures, seconds } from './figures.ts';
import { type OwnRedis, startOwnRedis } from './own-redis.ts';

/**
 * Fault scenarios 6, 7 and 8, about the control plane itself: killed in the middle of a rollout,
 * several processes at once under churn, and its Redis restarted and flushed. Two agents share the
 * machine's Docker daemon (each manages only its own containers) and register 512 MiB each, so
 * over-commitment would show.
 */
const HOST_MIB = 512;
let redis: OwnRedis;
let stack: Stack;
let agents: StackAgent[];

const service = (name: string) => describeService(stack, name);

/** Docker's own record of this stack's containers of a family: id, task, start and finish times. */
async function dockerRecord(family: string) {
  const rows: {
    id: string;
    taskId: string;
    instance: string;
    running: boolean;
    start: number;
    end: number;
  }[] = [];
  for (const a of agents) {
    const ids = (
      await docker(
        'ps',
        '-aq',
        '--filter',
        `label=bosun.instance-id=${a.instanceId()}`,
        '--filter',
        `label=com.amazonaws.ecs.task-definition-family=${family}`,
      )
    )
      .split('\n')
      .filter(Boolean);
    for (const id of ids) {
      const [taskId, running, started, finished] = (
        await docker(
          'inspect',
          '-f',
          '{{index .Config.Labels "bosun.task-id"}} {{.State.Running}} {{.State.StartedAt}} {{.State.FinishedAt}}',
          id,
        )
      ).split(' ');
      const end =
        running === 'true' || finished?.startsWith('0001')
          ? Number.POSITIVE_INFINITY
          : Date.parse(finished ?? '');
      rows.push({
        id,
        taskId: taskId ?? '',
        instance: a.instanceId(),
        running: running === 'true',
        start: Date.parse(started ?? ''),
        end,
      });
    }
  }
  return rows;
}

/** Most and fewest containers running at once between from and to, by a sweep over Docker's times. */
function runningBounds(rows: { start: number; end: number }[], from: number, to: number) {
  const points = [from, ...rows.flatMap((r) => [r.start, r.end])]
    .filter((t) => t >= from && t <= to)
    .sort((a, b) => a - b);
  let most = 0;
  let fewest = Number.POSITIVE_INFINITY;
  for (const t of points) {
    const n = rows.filter((r) => r.start <= t && t < r.end).length;
    most = Math.max(most, n);
    fewest = Math.min(fewest, n);
  }
  return { most, fewest };
}

beforeAll(async () => {
  redis = await startOwnRedis();
  stack = await startStack({ noAgent: true, serverEnv: { REDIS_URL: redis.url } });
  const reserve = Math.floor(totalmem() / 1048576) - HOST_MIB;
  agents = [];
  for (const n of [1, 2]) {
    agents.push(
      await stack.addAgent({
        BOSUN_MEMORY_RESERVE_MIB: String(reserve),
        BOSUN_ZONE: `zone-${n}`,
        BOSUN_HOSTNAME: `cp-faults-${n}`,
      }),
    );
  }
  await stack.registerBusybox('roller', ['sleep', '3600']);
  await stack.registerBusybox('roller', ['sleep', '3601']);
  await stack.registerBusybox('steady');
  await stack.aws(
    'register-task-definition',
    '--family',
    'chunk',
    '--container-definitions',
    JSON.stringify([
      { name: 'main', image: 'bosun/busybox:latest', memory: 64, command: ['sleep', '3600'], stopTimeout: 2 },
    ]),
  );
}, 180_000);

afterAll(async () => {
  if (stack) {
    for (const name of ['roll', 'steady', 'churn']) {
      await stack.aws('delete-service', '--service', name, '--force').catch(() => undefined);
    }
    await stack.close();
  }
  await redis?.destroy();
}, 180_000);

describe('fault suite: the control plane and its Redis', () => {
  it('6. kill -9 the control plane in the middle of a rolling deployment: it completes within the bounds', async () => {
    await stack.aws(
      'create-service',
      '--service-name',
      'roll',
      '--task-definition',
      'roller:1',
      '--desired-count',
      '4',
      '--deployment-configuration',
      'minimumHealthyPercent=50,maximumPercent=200',
    );
    await stack.aws('wait', 'services-stable', '--services', 'roll');
    const from = Date.now();
    await stack.aws('update-service', '--service', 'roll', '--task-definition', 'roller:2');
    await sleep(300);
    const startServer = await stack.stopServer('SIGKILL');
    await sleep(2000);
    await startServer();
    const done = await waitUntil('the rollout to complete', async () => {
      const s = await service('roll');
      return s.taskDefinition.endsWith(':2') && s.deployments.length === 1 && s.runningCount === 4;
    });
    const rows = await dockerRecord('roller');
    const { most, fewest } = runningBounds(rows, from, Date.now());
    recordFigures({
      scenario: '6. control plane kill -9 mid-rollout',
      recoverySeconds: seconds(done),
      duplicates:
        new Set(rows.map((r) => r.taskId)).size === rows.length
          ? 0
          : rows.length - new Set(rows.map((r) => r.taskId)).size,
      lost: (await measureTasks(stack.aws, ['--service-name', 'roll'])).lost,
      note: `running at once, from Docker: ${fewest}..${most} (bounds 2..8)`,
    });
    expect(most).toBeLessThanOrEqual(8);
    expect(fewest).toBeGreaterThanOrEqual(2);
    expect(rows.filter((r) => r.running)).toHaveLength(4);
  }, 150_000);

  it('7. three control-plane processes under RunTask and service churn: no host over-committed, no duplicates', async () => {
    const servers = [stack.server, await stack.addServer(), await stack.addServer()];
    await stack.aws(
      'create-service',
      '--service-name',
      'churn',
      '--task-definition',
      'chunk',
      '--desired-count',
      '4',
    );
    await stack.aws('wait', 'services-stable', '--services', 'churn');
    const from = Date.now();
    // More RunTasks than fit (16 slots of 64 MiB in all), through all three processes, with forced
    // deployments of the service in between.
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 24; i++) {
      const via = servers[i % servers.length];
      if (!via) continue;
      calls.push(stack.awsVia(via, 'run-task', '--task-definition', 'chunk').catch((e: Error) => e));
      if (i % 8 === 0) {
        calls.push(
          stack
            .awsVia(via, 'update-service', '--service', 'churn', '--force-new-deployment')
            .catch((e: Error) => e),
        );
      }
    }
    await Promise.all(calls);
    await sleep(3000);
    const rows = await dockerRecord('chunk');
    const perInstance = agents.map((a) => {
      const mine = rows.filter((r) => r.instance === a.instanceId());
      return runningBounds(mine, from, Date.now()).most * 64;
    });
    const duplicates = rows.length - new Set(rows.map((r) => r.taskId)).size;
    // Free the standalone tasks, so the service has room to finish its forced deployments.
    const all = (await stack.aws('list-tasks', '--family', 'chunk')) as { taskArns: string[] };
    const tasks = (await stack.aws('describe-tasks', '--tasks', ...all.taskArns)) as {
      tasks: { taskArn: string; group: string }[];
    };
    for (const t of tasks.tasks.filter((t) => !t.group.startsWith('service:'))) {
      await stack.aws('stop-task', '--task', t.taskArn);
    }
    await stack.aws('wait', 'services-stable', '--services', 'churn');
    recordFigures({
      scenario: '7. three control planes at once',
      duplicates,
      lost: (await measureTasks(stack.aws, ['--service-name', 'churn'])).lost,
      note: `most MiB running at once per host, from Docker: ${perInstance.join(', ')} (each host has ${HOST_MIB})`,
    });
    for (const mib of perInstance) expect(mib).toBeLessThanOrEqual(HOST_MIB);
    expect(duplicates).toBe(0);
    expect((await service('churn')).runningCount).toBe(4);
    await stack.aws('delete-service', '--service', 'churn', '--force');
    await waitUntil('the churn service to stop', async () =>
      (await dockerRecord('chunk')).every((r) => !r.running),
    );
  }, 240_000);

  it('8. Redis restarted, then flushed: nothing lost, services converge again', async () => {
    await stack.aws(
      'create-service',
      '--service-name',
      'steady',
      '--task-definition',
      'steady',
      '--desired-count',
      '3',
    );
    await stack.aws('wait', 'services-stable', '--services', 'steady');
    const steadyRunning = async () => (await dockerRecord('steady')).filter((r) => r.running);
    // From Docker's record: running containers beyond one per task.
    const duplicatedTasks = async () => {
      const rows = await steadyRunning();
      return rows.length - new Set(rows.map((r) => r.taskId)).size;
    };
    for (const fault of ['restart', 'flush'] as const) {
      if (fault === 'restart') await redis.restart();
      else await redis.flush();
      const started = Date.now();
      const [victim] = await steadyRunning();
      await docker('kill', victim?.id ?? '');
      await waitUntil(
        `a replacement after a Redis ${fault}`,
        async () => (await steadyRunning()).length === 3 && (await service('steady')).runningCount === 3,
      );
      const recovered = Date.now() - started;
      // RunTask, which goes through the placement queue, works too.
      const arn = await stack.runTask('chunk');
      await stack.waitForTask(arn, (t) => t.lastStatus === 'RUNNING', 60_000);
      await stack.aws('stop-task', '--task', arn);
      recordFigures({
        scenario: `8. Redis ${fault}`,
        recoverySeconds: seconds(recovered),
        duplicates: await duplicatedTasks(),
        lost: (await measureTasks(stack.aws, ['--service-name', 'steady'])).lost,
        note: 'recovery = a killed task replaced',
      });
      expect((await steadyRunning()).length).toBe(3);
    }
    // Only the sweep notices a silent host: after the flush, it must still run. A third host joins
    // first: one silent host of two is held back as a suspected partition (host-loss.ts), one of
    // three is a host lost among healthy ones.
    agents.push(
      await stack.addAgent({
        BOSUN_MEMORY_RESERVE_MIB: String(Math.floor(totalmem() / 1048576) - HOST_MIB),
        BOSUN_ZONE: 'zone-3',
        BOSUN_HOSTNAME: 'cp-faults-3',
      }),
    );
    const silent = agents[1] as StackAgent;
    const onSilent = (await steadyRunning()).filter((r) => r.instance === silent.instanceId()).length;
    await silent.stop('SIGKILL');
    const started = Date.now();
    await waitUntil('the silent host’s tasks replaced by the sweep', async () => {
      const live = (await steadyRunning()).filter((r) => r.instance !== silent.instanceId());
      return live.length === 3;
    });
    recordFigures({
      scenario: '8. sweep after the flush',
      recoverySeconds: seconds(Date.now() - started),
      ...(await measureTasks(stack.aws, ['--service-name', 'steady'])),
      note: `silent host had ${onSilent} of the service's tasks`,
    });
    await silent.start();
    await waitUntil('the returning host fenced', async () => (await steadyRunning()).length === 3);
  }, 240_000);
});
