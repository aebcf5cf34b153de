import {
  CreateClusterCommand,
  CreateServiceCommand,
  type CreateServiceCommandInput,
  DeleteServiceCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  ListServicesCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  type Service,
  type Task,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { startControlPlane, type TestControlPlane } from '@bosun/testkit/control-plane-in-process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAgent } from './fake-agent.ts';
import { AgentLoop, eventually } from './fake-fleet.ts';

let cp: TestControlPlane;
const loops: AgentLoop[] = [];

beforeAll(async () => {
  cp = await startControlPlane();
});
afterAll(async () => {
  await Promise.all(loops.map((l) => l.stop()));
  await cp?.close();
});

async function cluster(name: string, hosts: number, host: { memory?: number; cpu?: number } = {}) {
  await cp.ecs.send(new CreateClusterCommand({ clusterName: name }));
  const out: AgentLoop[] = [];
  for (let i = 0; i < hosts; i++) out.push(await host_(name, `${name}-${i}`, host));
  return out;
}

async function host_(clusterName: string, hostname: string, host: { memory?: number; cpu?: number } = {}) {
  const agent = await registerAgent(cp, {
    cluster: clusterName,
    hostname,
    memory: host.memory ?? 2048,
    cpu: host.cpu ?? 4096,
    attributes: [{ name: 'bosun.zone', value: `zone-${hostname.slice(-1)}` }],
  });
  const loop = new AgentLoop(agent).start();
  loops.push(loop);
  return loop;
}

async function revision(
  family: string,
  extra: { image?: string; healthCheck?: boolean; memory?: number } = {},
) {
  const out = await cp.ecs.send(
    new RegisterTaskDefinitionCommand({
      family,
      containerDefinitions: [
        {
          name: 'app',
          image: extra.image ?? 'nginx:1.27',
          memory: extra.memory ?? 128,
          cpu: 128,
          ...(extra.healthCheck === false
            ? {}
            : { healthCheck: { command: ['CMD-SHELL', 'true'], interval: 5, timeout: 2, retries: 3 } }),
        },
      ],
    }),
  );
  return out.taskDefinition?.taskDefinitionArn ?? '';
}

async function describe1(clusterName: string, name: string): Promise<Service> {
  const out = await cp.ecs.send(new DescribeServicesCommand({ cluster: clusterName, services: [name] }));
  const service = out.services?.[0];
  if (!service) throw new Error(`service ${name} missing: ${JSON.stringify(out.failures)}`);
  return service;
}

/** What `aws ecs wait services-stable` waits for: one deployment and runningCount == desiredCount. */
const isStable = (s: Service) =>
  s.status === 'ACTIVE' && s.deployments?.length === 1 && s.runningCount === s.desiredCount;

async function waitStable(clusterName: string, name: string, timeoutMs = 20_000): Promise<Service> {
  return eventually(
    `${name} stable`,
    async () => {
      const s = await describe1(clusterName, name);
      return isStable(s) ? s : undefined;
    },
    timeoutMs,
  );
}

async function serviceTasks(
  clusterName: string,
  name: string,
  desiredStatus: 'RUNNING' | 'STOPPED' = 'RUNNING',
) {
  const list = await cp.ecs.send(
    new ListTasksCommand({ cluster: clusterName, serviceName: name, desiredStatus, maxResults: 100 }),
  );
  const arns = list.taskArns ?? [];
  if (arns.length === 0) return [] as Task[];
  const out: Task[] = [];
  for (let i = 0; i < arns.length; i += 100) {
    const d = await cp.ecs.send(
      new DescribeTasksCommand({ cluster: clusterName, tasks: arns.slice(i, i + 100) }),
    );
    out.push(...(d.tasks ?? []));
  }
  return out;
}

const steady = (name: string) => `(service ${name}) has reached a steady state.`;

async function create(input: Omit<CreateServiceCommandInput, 'serviceName'> & { serviceName: string }) {
  const out = await cp.ecs.send(new CreateServiceCommand(input));
  return out.service as Service;
}

describe('a REPLICA service', () => {
  const C = 'svc';
  let hosts: AgentLoop[];

  beforeAll(async () => {
    hosts = await cluster(C, 3);
    await revision('web');
  });

  it('starts 4 tasks that turn RUNNING and HEALTHY, then says it reached a steady state', async () => {
    const started = performance.now();
    const created = await create({
      cluster: C,
      serviceName: 'web',
      taskDefinition: 'web',
      desiredCount: 4,
      tags: [{ key: 'team', value: 'a' }],
    });
    expect(created).toMatchObject({
      serviceName: 'web',
      serviceArn: 'arn:aws:ecs:local:000000000000:service/svc/web',
      clusterArn: 'arn:aws:ecs:local:000000000000:cluster/svc',
      status: 'ACTIVE',
      desiredCount: 4,
      launchType: 'EC2',
      schedulingStrategy: 'REPLICA',
      taskDefinition: 'arn:aws:ecs:local:000000000000:task-definition/web:1',
      deploymentConfiguration: {
        minimumHealthyPercent: 100,
        maximumPercent: 200,
        deploymentCircuitBreaker: { enable: false, rollback: false },
      },
      tags: [{ key: 'team', value: 'a' }],
    });
    expect(created.deployments).toHaveLength(1);
    expect(created.deployments?.[0]).toMatchObject({ status: 'PRIMARY', rolloutState: 'IN_PROGRESS' });

    const stable = await waitStable(C, 'web');
    console.log(
      `4 tasks RUNNING+HEALTHY and services-stable in ${(performance.now() - started).toFixed(0)} ms`,
    );
    const deploymentId = stable.deployments?.[0]?.id ?? '';
    expect(deploymentId).toMatch(/^ecs-svc\/\d{19}$/);
    expect(stable.deployments?.[0]).toMatchObject({
      status: 'PRIMARY',
      desiredCount: 4,
      runningCount: 4,
      pendingCount: 0,
      failedTasks: 0,
      rolloutState: 'COMPLETED',
      rolloutStateReason: `ECS deployment ${deploymentId} completed.`,
    });
    const messages = await eventually('steady event', async () => {
      const m = (await describe1(C, 'web')).events?.map((e) => e.message ?? '') ?? [];
      return m[0] === steady('web') ? m : undefined;
    });
    expect(messages).toContain(`(service web) (deployment ${deploymentId}) deployment completed.`);
    expect(
      messages.some((m) => /^\(service web\) has started 4 tasks: (\(task [0-9a-f]{32}\) ?){4}\.$/.test(m)),
    ).toBe(true);
    const tasks = await serviceTasks(C, 'web');
    expect(tasks).toHaveLength(4);
    for (const t of tasks) {
      expect(t).toMatchObject({
        lastStatus: 'RUNNING',
        healthStatus: 'HEALTHY',
        group: 'service:web',
        startedBy: deploymentId,
      });
    }
    // Spread over the hosts (zone, then instance).
    expect(new Set(tasks.map((t) => t.containerInstanceArn)).size).toBe(3);
    void hosts;
  });

  it('replaces a task that stops by itself and says it started 1 task', async () => {
    const [victim] = await serviceTasks(C, 'web');
    const taskId = victim?.taskArn?.split('/').pop() ?? '';
    const host = hosts.find((h) => victim?.containerInstanceArn?.endsWith(h.id));
    await host?.crash(taskId);
    const started = performance.now();
    await eventually('a replacement', async () => {
      const tasks = await serviceTasks(C, 'web');
      return (
        tasks.length === 4 &&
        !tasks.some((t) => t.taskArn?.endsWith(taskId)) &&
        tasks.every((t) => t.lastStatus === 'RUNNING')
      );
    });
    console.log(`replacement RUNNING ${(performance.now() - started).toFixed(0)} ms after the crash report`);
    const s = await waitStable(C, 'web');
    const messages = s.events?.map((e) => e.message ?? '') ?? [];
    expect(
      messages.some((m) => /^\(service web\) has started 1 tasks: \(task [0-9a-f]{32}\)\.$/.test(m)),
    ).toBe(true);
  });

  it('replaces a task that fails its health check, starting the replacement first', async () => {
    await waitStable(C, 'web');
    const [sick] = await serviceTasks(C, 'web');
    const taskId = sick?.taskArn?.split('/').pop() ?? '';
    const host = hosts.find((h) => sick?.containerInstanceArn === h.agent.arn) as AgentLoop;
    let minHealthy = Number.POSITIVE_INFINITY;
    const stop = sample(async () => {
      minHealthy = Math.min(minHealthy, (await taskCounts(C, 'web')).healthy);
    });
    await host.health(taskId, 'UNHEALTHY');
    const s = await eventually('unhealthy task replaced', async () => {
      const x = await waitStable(C, 'web');
      const tasks = await serviceTasks(C, 'web');
      return tasks.length === 4 && !tasks.some((t) => t.taskArn?.endsWith(taskId)) ? x : undefined;
    });
    await stop();
    // The sick task no longer counts; the other 3 stay until the replacement is healthy.
    expect(minHealthy).toBeGreaterThanOrEqual(3);
    expect(s.events?.map((e) => e.message)).toContain(
      `(service web) (task ${taskId}) failed container health checks.`,
    );
    const [stopped] = (await serviceTasks(C, 'web', 'STOPPED')).filter((t) => t.taskArn?.endsWith(taskId));
    expect(stopped).toMatchObject({
      stopCode: 'ServiceSchedulerInitiated',
      stoppedReason: 'Task failed container health checks',
    });
  });

  it('lists and describes services, with TAGS and MISSING failures', async () => {
    const list = await cp.ecs.send(new ListServicesCommand({ cluster: C }));
    expect(list.serviceArns).toEqual(['arn:aws:ecs:local:000000000000:service/svc/web']);
    const out = await cp.ecs.send(
      new DescribeServicesCommand({
        cluster: C,
        services: ['web', 'nope', 'arn:aws:ecs:local:000000000000:service/svc/web'],
        include: ['TAGS'],
      }),
    );
    expect(out.services?.map((s) => s.serviceName)).toEqual(['web', 'web']);
    expect(out.services?.[0]?.tags).toEqual([{ key: 'team', value: 'a' }]);
    expect(out.failures).toEqual([
      { arn: 'arn:aws:ecs:local:000000000000:service/svc/nope', reason: 'MISSING' },
    ]);
  });
});

/** Runs `probe` every few ms until the returned stop function is called. */
function sample(probe: () => Promise<void>, everyMs = 20): () => Promise<number> {
  let on = true;
  let n = 0;
  const loop = (async () => {
    while (on) {
      await probe();
      n += 1;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return async () => {
    on = false;
    await loop;
    return n;
  };
}

/** Counted straight from Postgres: the truth at one instant (one statement). */
async function taskCounts(clusterName: string, name: string) {
  const [row] = await cp.database.sql<{ nonStopped: number; live: number; healthy: number }[]>`
    select count(*) filter (where t.last_status <> 'STOPPED')::int as "nonStopped",
           count(*) filter (where t.last_status <> 'STOPPED' and t.desired_status = 'RUNNING')::int as live,
           count(*) filter (where t.desired_status = 'RUNNING' and t.last_status = 'RUNNING'
                              and t.health_status = 'HEALTHY')::int as healthy
      from tasks t join services s on s.id = t.service_id join clusters c on c.id = s.cluster_id
     where c.name = ${clusterName} and s.name = ${name} and s.status <> 'INACTIVE'`;
  return row ?? { nonStopped: 0, live: 0, healthy: 0 };
}

/** Instances holding more memory or CPU than they registered (must never happen). */
async function overCommitted(clusterName: string) {
  return cp.database.sql<{ id: string }[]>`
    select ci.id
      from container_instances ci join clusters c on c.id = ci.cluster_id
      left join tasks t on t.container_instance_id = ci.id and t.last_status <> 'STOPPED'
     where c.name = ${clusterName}
     group by ci.id, ci.registered_memory, ci.registered_cpu
    having coalesce(sum(t.reserved_memory), 0) > ci.registered_memory
        or coalesce(sum(t.reserved_cpu), 0) > ci.registered_cpu`;
}

describe('rollouts', () => {
  const C = 'roll';
  let hosts: AgentLoop[];

  beforeAll(async () => {
    hosts = await cluster(C, 3);
    await revision('api');
    await create({
      cluster: C,
      serviceName: 'api',
      taskDefinition: 'api',
      desiredCount: 4,
      deploymentConfiguration: {
        minimumHealthyPercent: 50,
        maximumPercent: 200,
        deploymentCircuitBreaker: { enable: true, rollback: true },
      },
    });
    await waitStable(C, 'api');
  });

  it('rolls out a new revision within min 50 % / max 200 %, and the old deployment leaves', async () => {
    const arn2 = await revision('api', { image: 'nginx:1.28' });
    for (const h of hosts) h.startDelayMs = 150;
    const before = await describe1(C, 'api');
    const oldDeployment = before.deployments?.[0]?.id;
    let maxNonStopped = 0;
    let maxLive = 0;
    let minHealthy = Number.POSITIVE_INFINITY;
    let maxDeployments = 0;
    const stopDb = sample(async () => {
      const c = await taskCounts(C, 'api');
      maxNonStopped = Math.max(maxNonStopped, c.nonStopped);
      maxLive = Math.max(maxLive, c.live);
      minHealthy = Math.min(minHealthy, c.healthy);
    });
    const stopApi = sample(async () => {
      const s = await describe1(C, 'api');
      maxDeployments = Math.max(maxDeployments, s.deployments?.length ?? 0);
      await serviceTasks(C, 'api');
    }, 50);
    const started = performance.now();
    const updated = await cp.ecs.send(
      new UpdateServiceCommand({ cluster: C, service: 'api', taskDefinition: 'api:2' }),
    );
    expect(updated.service?.deployments?.map((d) => d.status)).toEqual(['PRIMARY', 'ACTIVE']);
    expect(updated.service?.taskDefinition).toBe(arn2);
    const done = await eventually('rollout completed', async () => {
      const s = await describe1(C, 'api');
      return isStable(s) &&
        s.deployments?.[0]?.taskDefinition === arn2 &&
        s.deployments[0].rolloutState === 'COMPLETED'
        ? s
        : undefined;
    });
    const elapsed = performance.now() - started;
    const samples = (await stopDb()) + (await stopApi());
    for (const h of hosts) h.startDelayMs = 0;
    console.log(
      `rollout of 4 tasks (min 50 / max 200) done in ${elapsed.toFixed(0)} ms; ${samples} samples: ` +
        `max non-stopped ${maxNonStopped}, max live ${maxLive}, min healthy ${minHealthy}, max deployments ${maxDeployments}`,
    );
    expect(maxNonStopped).toBeLessThanOrEqual(8);
    expect(minHealthy).toBeGreaterThanOrEqual(2);
    expect(maxDeployments).toBe(2);
    expect(done.deployments?.map((d) => d.id)).not.toContain(oldDeployment);
    const tasks = await serviceTasks(C, 'api');
    expect(tasks.map((t) => t.taskDefinitionArn)).toEqual([arn2, arn2, arn2, arn2]);
    const messages = done.events?.map((e) => e.message ?? '') ?? [];
    expect(messages).toContain(
      `(service api) (deployment ${done.deployments?.[0]?.id}) deployment completed.`,
    );
    expect(messages.some((m) => /^\(service api\) has stopped \d running tasks: /.test(m))).toBe(true);
    const old = await serviceTasks(C, 'api', 'STOPPED');
    expect(
      old
        .filter((t) => t.startedBy === oldDeployment)
        .every((t) => t.stopCode === 'ServiceSchedulerInitiated'),
    ).toBe(true);
  });

  it('trips the circuit breaker when the new revision never starts, then rolls back', async () => {
    const good = await describe1(C, 'api');
    const goodDeployment = good.deployments?.[0]?.id ?? '';
    const arn3 = await revision('api', { image: 'example.invalid/broken:1' });
    let failures = 0;
    for (const h of hosts) {
      // The first three tasks of the broken revision fail to start; later ones hang in PROVISIONING,
      // and their stops are held, so the FAILED deployment stays visible until released.
      h.fate = (task) => {
        if (task.taskDefinitionArn !== arn3) return 'healthy';
        failures += 1;
        return failures <= 3 ? 'fail-start' : 'ignore';
      };
      h.holdStop = (task) => task.taskDefinitionArn === arn3;
    }
    const started = performance.now();
    await cp.ecs.send(new UpdateServiceCommand({ cluster: C, service: 'api', taskDefinition: 'api:3' }));
    const failed = await eventually('deployment FAILED and rolled back', async () => {
      const s = await describe1(C, 'api');
      const broken = s.deployments?.find((d) => d.taskDefinition === arn3);
      return broken?.rolloutState === 'FAILED' && s.deployments?.[0]?.id === goodDeployment ? s : undefined;
    });
    console.log(
      `circuit breaker tripped and rolled back ${(performance.now() - started).toFixed(0)} ms after the update`,
    );
    const broken = failed.deployments?.find((d) => d.taskDefinition === arn3);
    expect(broken).toMatchObject({
      status: 'ACTIVE',
      rolloutState: 'FAILED',
      rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.',
    });
    expect(broken?.failedTasks).toBeGreaterThanOrEqual(3);
    expect(failed.deployments?.[0]).toMatchObject({
      status: 'PRIMARY',
      rolloutState: 'IN_PROGRESS',
      rolloutStateReason: `ECS deployment circuit breaker: rolling back to deploymentId ${goodDeployment}.`,
    });
    const messages = failed.events?.map((e) => e.message ?? '') ?? [];
    expect(messages).toContain(
      `(service api) (deployment ${broken?.id}) deployment failed: tasks failed to start.`,
    );
    expect(messages).toContain(`(service api) rolling back to deployment ${goodDeployment}.`);

    for (const h of hosts) h.holdStop = () => false;
    const back = await eventually('rolled back and stable', async () => {
      const s = await describe1(C, 'api');
      return isStable(s) && s.deployments?.[0]?.rolloutState === 'COMPLETED' ? s : undefined;
    });
    expect(back.deployments?.[0]?.id).toBe(goodDeployment);
    expect(back.taskDefinition).toBe(good.taskDefinition);
    const tasks = await serviceTasks(C, 'api');
    expect(tasks).toHaveLength(4);
    expect(
      tasks.every((t) => t.taskDefinitionArn === good.taskDefinition && t.lastStatus === 'RUNNING'),
    ).toBe(true);
    for (const h of hosts) h.fate = () => 'healthy';
  });
});

describe('scaling, draining, lost hosts', () => {
  const C = 'scale';
  let hosts: AgentLoop[];

  beforeAll(async () => {
    hosts = await cluster(C, 3);
    await revision('worker');
    await create({ cluster: C, serviceName: 'worker', taskDefinition: 'worker', desiredCount: 4 });
    await waitStable(C, 'worker');
  });

  it('scales 4 → 10 → 4', async () => {
    let started = performance.now();
    await cp.ecs.send(new UpdateServiceCommand({ cluster: C, service: 'worker', desiredCount: 10 }));
    let s = await waitStable(C, 'worker');
    console.log(`scaled 4 -> 10 in ${(performance.now() - started).toFixed(0)} ms`);
    expect(s).toMatchObject({ desiredCount: 10, runningCount: 10, pendingCount: 0 });
    expect(await serviceTasks(C, 'worker')).toHaveLength(10);
    started = performance.now();
    await cp.ecs.send(new UpdateServiceCommand({ cluster: C, service: 'worker', desiredCount: 4 }));
    s = await eventually('scaled in', async () => {
      const x = await waitStable(C, 'worker');
      return x.desiredCount === 4 && (await taskCounts(C, 'worker')).nonStopped === 4 ? x : undefined;
    });
    console.log(`scaled 10 -> 4 in ${(performance.now() - started).toFixed(0)} ms`);
    expect(s.runningCount).toBe(4);
    const stopped = (await serviceTasks(C, 'worker', 'STOPPED')).filter((t) =>
      t.stoppedReason?.startsWith('Scaling'),
    );
    expect(stopped).toHaveLength(6);
    expect(stopped[0]).toMatchObject({
      stopCode: 'ServiceSchedulerInitiated',
      stoppedReason: `Scaling activity initiated by (deployment ${s.deployments?.[0]?.id})`,
    });
  });

  it('replaces the tasks of a DRAINING instance elsewhere, keeping 100 % healthy', async () => {
    const tasks = await serviceTasks(C, 'worker');
    const counts = new Map<string, number>();
    for (const t of tasks)
      counts.set(t.containerInstanceArn ?? '', (counts.get(t.containerInstanceArn ?? '') ?? 0) + 1);
    const busiest = hosts.reduce((a, b) =>
      (counts.get(a.agent.arn) ?? 0) >= (counts.get(b.agent.arn) ?? 0) ? a : b,
    );
    let minHealthy = Number.POSITIVE_INFINITY;
    let maxLive = 0;
    const stop = sample(async () => {
      const c = await taskCounts(C, 'worker');
      minHealthy = Math.min(minHealthy, c.healthy);
      maxLive = Math.max(maxLive, c.live);
    });
    const started = performance.now();
    const { UpdateContainerInstancesStateCommand } = await import('@aws-sdk/client-ecs');
    await cp.ecs.send(
      new UpdateContainerInstancesStateCommand({
        cluster: C,
        containerInstances: [busiest.id],
        status: 'DRAINING',
      }),
    );
    await eventually('drained', async () => {
      const now = await serviceTasks(C, 'worker');
      return (
        now.length === 4 &&
        now.every((t) => t.containerInstanceArn !== busiest.agent.arn && t.lastStatus === 'RUNNING') &&
        (await taskCounts(C, 'worker')).nonStopped === 4
      );
    });
    await stop();
    console.log(
      `drained ${counts.get(busiest.agent.arn)} tasks off an instance in ${(performance.now() - started).toFixed(0)} ms; min healthy ${minHealthy}, max live ${maxLive}`,
    );
    expect(minHealthy).toBeGreaterThanOrEqual(4);
    expect(maxLive).toBeLessThanOrEqual(8);
    await cp.ecs.send(
      new UpdateContainerInstancesStateCommand({
        cluster: C,
        containerInstances: [busiest.id],
        status: 'ACTIVE',
      }),
    );
  });

  it('replaces the tasks of a host whose agent falls silent, within the agent timeout and a sweep', async () => {
    await waitStable(C, 'worker');
    const tasks = await serviceTasks(C, 'worker');
    const victim = hosts.find((h) => tasks.some((t) => t.containerInstanceArn === h.agent.arn)) as AgentLoop;
    const onVictim = tasks.filter((t) => t.containerInstanceArn === victim.agent.arn).length;
    await victim.stop();
    const started = performance.now();
    await eventually(
      'replaced elsewhere',
      async () => {
        const now = await serviceTasks(C, 'worker');
        const elsewhere = now.filter(
          (t) => t.containerInstanceArn !== victim.agent.arn && t.lastStatus === 'RUNNING',
        );
        return elsewhere.length === 4;
      },
      cp.settings.agentTimeoutMs + 3 * cp.settings.serviceSweepMs + 5_000,
    );
    const elapsed = performance.now() - started;
    console.log(
      `${onVictim} tasks of a silent host replaced ${elapsed.toFixed(0)} ms after its last heartbeat (agent timeout ${cp.settings.agentTimeoutMs} ms, sweep ${cp.settings.serviceSweepMs} ms)`,
    );
    expect(elapsed).toBeLessThan(cp.settings.agentTimeoutMs + 2 * cp.settings.serviceSweepMs + 2_000);
    const s = await waitStable(C, 'worker');
    expect(s.runningCount).toBe(4);
    const stopped = await serviceTasks(C, 'worker', 'STOPPED');
    expect(
      stopped.filter((t) => t.stoppedReason === 'Container instance was lost (agent disconnected)'),
    ).toHaveLength(onVictim);
    // The host comes back: it is told to stop the tasks it still runs, and they are reported STOPPED.
    victim.resume();
    await eventually(
      'old tasks reported stopped',
      async () => (await taskCounts(C, 'worker')).nonStopped === 4,
    );
  }, 60_000);
});

describe('a DAEMON service', () => {
  const C = 'daemon';

  it('runs one task per instance, and one more on an instance that joins', async () => {
    await cluster(C, 2);
    await revision('agent-d', { healthCheck: false });
    const created = await create({
      cluster: C,
      serviceName: 'logs',
      taskDefinition: 'agent-d',
      schedulingStrategy: 'DAEMON',
    });
    expect(created.schedulingStrategy).toBe('DAEMON');
    expect(created.deploymentConfiguration).toMatchObject({ minimumHealthyPercent: 0, maximumPercent: 100 });
    let s = await eventually('2 daemons', async () => {
      const x = await describe1(C, 'logs');
      return isStable(x) && x.desiredCount === 2 ? x : undefined;
    });
    let tasks = await serviceTasks(C, 'logs');
    expect(new Set(tasks.map((t) => t.containerInstanceArn)).size).toBe(2);
    const third = await host_(C, `${C}-2`);
    const started = performance.now();
    s = await eventually('3 daemons', async () => {
      const x = await describe1(C, 'logs');
      return isStable(x) && x.desiredCount === 3 ? x : undefined;
    });
    console.log(`a joining instance got its daemon task in ${(performance.now() - started).toFixed(0)} ms`);
    tasks = await serviceTasks(C, 'logs');
    expect(tasks).toHaveLength(3);
    expect(tasks.filter((t) => t.containerInstanceArn === third.agent.arn)).toHaveLength(1);
    expect(s.runningCount).toBe(3);
  });
});

describe('two control-plane processes', () => {
  const C = 'pair';

  it('serve one cluster under churn without duplicate tasks or an over-committed host', async () => {
    const cp2 = await startControlPlane({ shareWith: cp });
    try {
      await cp.ecs.send(new CreateClusterCommand({ clusterName: C }));
      // Tight: 3 hosts × 1024 MiB, tasks of 256 MiB → 12 slots for two services of 4 (ceiling 6 each).
      const hosts: AgentLoop[] = [];
      for (let i = 0; i < 3; i++) {
        const agent = await registerAgent(cp, { cluster: C, hostname: `${C}-${i}`, memory: 1024, cpu: 4096 });
        // Every other host talks to the second process.
        if (i % 2 === 1) {
          const { FakeAgent } = await import('./fake-agent.ts');
          const moved = new FakeAgent(cp2.endpoint, agent.registration, agent.keyPem);
          hosts.push(new AgentLoop(moved).start());
        } else hosts.push(new AgentLoop(agent).start());
      }
      loops.push(...hosts);
      await revision('churn', { memory: 256 });
      const config = { minimumHealthyPercent: 50, maximumPercent: 150 };
      for (const [i, name] of ['a', 'b'].entries()) {
        await (i === 0 ? cp : cp2).ecs.send(
          new CreateServiceCommand({
            cluster: C,
            serviceName: name,
            taskDefinition: 'churn',
            desiredCount: 4,
            deploymentConfiguration: config,
          }),
        );
      }
      await waitStable(C, 'a');
      await waitStable(C, 'b');

      const violations: string[] = [];
      const stop = sample(async () => {
        for (const name of ['a', 'b']) {
          const c = await taskCounts(C, name);
          if (c.live > 6) violations.push(`${name}: ${c.live} live tasks > ceiling 6`);
        }
        const over = await overCommitted(C);
        if (over.length > 0) violations.push(`over-committed: ${over.map((r) => r.id).join(', ')}`);
      }, 10);
      const started = performance.now();
      for (let round = 0; round < 6; round++) {
        const client = round % 2 === 0 ? cp.ecs : cp2.ecs;
        const name = round % 3 === 0 ? 'b' : 'a';
        await client.send(new UpdateServiceCommand({ cluster: C, service: name, forceNewDeployment: true }));
        // Crash a running task of each service meanwhile.
        for (const svc of ['a', 'b']) {
          const [t] = await serviceTasks(C, svc);
          const id = t?.taskArn?.split('/').pop();
          const h = hosts.find((x) => t?.containerInstanceArn === x.agent.arn);
          if (id && h && t?.lastStatus === 'RUNNING') await h.crash(id).catch(() => {});
        }
        await new Promise((r) => setTimeout(r, 150));
      }
      const a = await waitStable(C, 'a', 30_000);
      const b = await waitStable(C, 'b', 30_000);
      const samples = await stop();
      console.log(
        `2 processes, 6 forced deployments + 12 crashes, settled in ${(performance.now() - started).toFixed(0)} ms; ${samples} samples, ${violations.length} violations`,
      );
      expect(violations).toEqual([]);
      for (const s of [a, b]) expect(s).toMatchObject({ desiredCount: 4, runningCount: 4 });
      expect((await taskCounts(C, 'a')).nonStopped).toBe(4);
      expect((await taskCounts(C, 'b')).nonStopped).toBe(4);
      // Every task id is one row (primary key), and every placed task belongs to exactly one service.
      const [dup] = await cp.database.sql<{ n: number }[]>`
        select count(*)::int as n from tasks t join clusters c on c.id = t.cluster_id
         where c.name = ${C} and t.group not in ('service:a', 'service:b')`;
      expect(dup?.n).toBe(0);
    } finally {
      await cp2.close();
    }
  }, 60_000);
});

describe('DeleteService', () => {
  const C = 'del';

  it('refuses while scaled above 0 without force; with force stops everything and turns INACTIVE', async () => {
    await cluster(C, 2);
    await revision('gone');
    await create({ cluster: C, serviceName: 'gone', taskDefinition: 'gone', desiredCount: 3 });
    await waitStable(C, 'gone');
    await expect(
      cp.ecs.send(new DeleteServiceCommand({ cluster: C, service: 'gone' })),
    ).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: 'The service cannot be stopped while it is scaled above 0.',
    });
    const started = performance.now();
    const out = await cp.ecs.send(new DeleteServiceCommand({ cluster: C, service: 'gone', force: true }));
    expect(out.service).toMatchObject({ status: 'DRAINING', desiredCount: 0 });
    const inactive = await eventually('INACTIVE', async () => {
      const s = await describe1(C, 'gone');
      return s.status === 'INACTIVE' ? s : undefined;
    });
    console.log(`force-deleted a service of 3 in ${(performance.now() - started).toFixed(0)} ms`);
    expect(inactive).toMatchObject({ runningCount: 0, pendingCount: 0 });
    expect(await serviceTasks(C, 'gone')).toEqual([]);
    const stopped = await serviceTasks(C, 'gone', 'STOPPED');
    expect(stopped).toHaveLength(3);
    expect(
      stopped.every((t) => t.stopCode === 'ServiceSchedulerInitiated' && t.lastStatus === 'STOPPED'),
    ).toBe(true);
    expect((await cp.ecs.send(new ListServicesCommand({ cluster: C }))).serviceArns).toEqual([]);
    await expect(
      cp.ecs.send(new UpdateServiceCommand({ cluster: C, service: 'gone', desiredCount: 1 })),
    ).rejects.toMatchObject({ name: 'ServiceNotActiveException' });
    // The name can be used again.
    await create({ cluster: C, serviceName: 'gone', taskDefinition: 'gone', desiredCount: 1 });
    const again = await waitStable(C, 'gone');
    expect(again.runningCount).toBe(1);
    await cp.ecs.send(new UpdateServiceCommand({ cluster: C, service: 'gone', desiredCount: 0 }));
    await cp.ecs.send(new DeleteServiceCommand({ cluster: C, service: 'gone' }));
    await eventually('INACTIVE again', async () => (await describe1(C, 'gone')).status === 'INACTIVE');
  });
});

describe('bad input', () => {
  const C = 'bad';

  async function storedServices() {
    const [row] = await cp.database.sql<{ services: number; deployments: number; tasks: number }[]>`
      select (select count(*) from services)::int as services,
             (select count(*) from deployments)::int as deployments,
             (select count(*) from tasks)::int as tasks`;
    return row;
  }

  it('answers with ECS errors and stores nothing', async () => {
    await cluster(C, 1);
    await revision('okay');
    await create({ cluster: C, serviceName: 'taken', taskDefinition: 'okay', desiredCount: 0 });
    const before = await storedServices();
    const cases: [Partial<CreateServiceCommandInput>, string, string | RegExp][] = [
      [{ taskDefinition: 'nope' }, 'ClientException', 'TaskDefinition not found.'],
      [{ serviceName: 'taken' }, 'InvalidParameterException', 'Creation of service was not idempotent.'],
      [
        { placementConstraints: [{ type: 'memberOf', expression: 'attribute:x ==' }] },
        'InvalidParameterException',
        /^placementConstraints\[0\]\.expression: .*\(position \d+\)\.$/,
      ],
      [
        { schedulingStrategy: 'DAEMON', desiredCount: 2 },
        'InvalidParameterException',
        'The daemon scheduling strategy does not support a desired count for services. Remove the desired count value and try again',
      ],
      [
        {
          schedulingStrategy: 'DAEMON',
          desiredCount: undefined,
          placementStrategy: [{ type: 'spread', field: 'instanceId' }],
        },
        'InvalidParameterException',
        'The daemon scheduling strategy does not support placement strategies. Remove the placement strategy and try again',
      ],
      [{ launchType: 'FARGATE' }, 'UnsupportedFeatureException', /FARGATE/],
      [{ placementStrategy: [{ type: 'binpack', field: 'disk' }] }, 'InvalidParameterException', /binpack/],
      [{ desiredCount: -1 }, 'InvalidParameterException', /desiredCount/],
      [{ deploymentConfiguration: { maximumPercent: 50 } }, 'InvalidParameterException', /maximumPercent/],
      [{ desiredCount: undefined }, 'InvalidParameterException', /desiredCount/],
      [{ cluster: 'ghost' }, 'ClusterNotFoundException', 'Cluster not found.'],
    ];
    for (const [patch, name, message] of cases) {
      const input = { cluster: C, serviceName: 'fresh', taskDefinition: 'okay', desiredCount: 1, ...patch };
      const err = await cp.ecs.send(new CreateServiceCommand(input as CreateServiceCommandInput)).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.name, JSON.stringify(patch)).toBe(name);
      if (typeof message === 'string') expect(err?.message).toBe(message);
      else expect(err?.message).toMatch(message);
    }
    await expect(
      cp.ecs.send(new UpdateServiceCommand({ cluster: C, service: 'missing', desiredCount: 1 })),
    ).rejects.toMatchObject({ name: 'ServiceNotFoundException', message: 'Service not found.' });
    await expect(
      cp.ecs.send(new UpdateServiceCommand({ cluster: C, service: 'taken', taskDefinition: 'nope' })),
    ).rejects.toMatchObject({ name: 'ClientException' });
    await expect(
      cp.ecs.send(new DeleteServiceCommand({ cluster: C, service: 'missing' })),
    ).rejects.toMatchObject({ name: 'ServiceNotFoundException' });
    await expect(
      cp.ecs.send(
        new DescribeServicesCommand({ cluster: C, services: Array.from({ length: 11 }, (_, i) => `s${i}`) }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
    expect(await storedServices()).toEqual(before);
  });

  it('answers a CreateService retried with the same clientToken with the same service', async () => {
    const input = {
      cluster: C,
      serviceName: 'once',
      taskDefinition: 'okay',
      desiredCount: 0,
      clientToken: 'tok-1',
    };
    const first = await create(input);
    const second = await create(input);
    expect(second.serviceArn).toBe(first.serviceArn);
    expect(second.deployments?.[0]?.id).toBe(first.deployments?.[0]?.id);
    await expect(create({ ...input, clientToken: 'tok-2' })).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });
  });
});
