import {
  CreateClusterCommand,
  DeregisterTaskDefinitionCommand,
  DescribeClustersCommand,
  DescribeContainerInstancesCommand,
  DescribeTasksCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
  RunTaskCommand,
  StartTaskCommand,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import { startControlPlane, type TestControlPlane } from '@bosun/testkit/control-plane-in-process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeAgent, registerAgent } from './fake-agent.ts';

let cp: TestControlPlane;
beforeAll(async () => {
  cp = await startControlPlane();
});
afterAll(async () => {
  await cp?.close();
});

async function cluster(name: string): Promise<string> {
  await cp.ecs.send(new CreateClusterCommand({ clusterName: name }));
  return name;
}

async function taskDefinition(
  family: string,
  container: Partial<NonNullable<RegisterTaskDefinitionCommandInput['containerDefinitions']>[number]> = {},
) {
  const out = await cp.ecs.send(
    new RegisterTaskDefinitionCommand({
      family,
      containerDefinitions: [{ name: 'app', image: 'nginx:1.27', memory: 128, cpu: 128, ...container }],
    }),
  );
  return out.taskDefinition?.taskDefinitionArn ?? '';
}

async function counts() {
  const [row] = await cp.database.sql<{ tasks: number; requests: number }[]>`
    select (select count(*) from tasks)::int as tasks, (select count(*) from placement_requests)::int as requests`;
  return row;
}

const remainingMemory = async (clusterName: string, agent: FakeAgent) => {
  const out = await cp.ecs.send(
    new DescribeContainerInstancesCommand({ cluster: clusterName, containerInstances: [agent.id] }),
  );
  return out.containerInstances?.[0]?.remainingResources?.find((r) => r.name === 'MEMORY')?.integerValue;
};

describe('RunTask → placement worker → agent', () => {
  let small: FakeAgent;
  let big: FakeAgent;
  let taskArn = '';

  beforeAll(async () => {
    await cluster('wake');
    small = await registerAgent(cp, { cluster: 'wake', hostname: 'small', memory: 256 });
    big = await registerAgent(cp, { cluster: 'wake', hostname: 'big', memory: 4096 });
    await taskDefinition('web', {
      memory: 512,
      portMappings: [{ containerPort: 80, hostPort: 0 }],
      environment: [{ name: 'MODE', value: 'prod' }],
    });
  });

  it('places on the instance with room and wakes that agent’s long-poll at once', async () => {
    const before = await big.desired();
    expect(before.tasks).toEqual([]);
    const started = performance.now();
    let wokeAt = 0;
    const poll = big.desired(before.version, 10).then((state) => {
      wokeAt = performance.now();
      return state;
    });
    // Let the long-poll register before the task is placed.
    await new Promise((r) => setTimeout(r, 100));
    const sent = performance.now();
    const run = await cp.ecs.send(
      new RunTaskCommand({
        cluster: 'wake',
        taskDefinition: 'web',
        startedBy: 'me',
        overrides: {
          containerOverrides: [
            {
              name: 'app',
              command: ['nginx', '-g', 'daemon off;'],
              environment: [{ name: 'X', value: '1' }],
            },
          ],
        },
      }),
    );
    const answered = performance.now();
    const state = await poll;
    const latency = wokeAt - sent;
    console.log(
      `RunTask answered in ${(answered - sent).toFixed(1)} ms; agent long-poll woke ${latency.toFixed(1)} ms after RunTask was sent`,
    );
    expect(latency).toBeLessThan(1000);
    expect(wokeAt - started).toBeGreaterThan(50); // it really waited

    expect(run.failures).toEqual([]);
    const task = run.tasks?.[0];
    taskArn = task?.taskArn ?? '';
    expect(taskArn).toMatch(/^arn:aws:ecs:local:000000000000:task\/wake\/[0-9a-f]{32}$/);
    expect(task).toMatchObject({
      clusterArn: 'arn:aws:ecs:local:000000000000:cluster/wake',
      taskDefinitionArn: 'arn:aws:ecs:local:000000000000:task-definition/web:1',
      containerInstanceArn: big.arn,
      lastStatus: 'PROVISIONING',
      desiredStatus: 'RUNNING',
      group: 'family:web',
      startedBy: 'me',
      launchType: 'EC2',
      cpu: '128',
      memory: '512',
      version: 1,
    });
    expect(task?.createdAt).toBeInstanceOf(Date);
    expect(task?.containers?.[0]?.containerArn).toMatch(
      /^arn:aws:ecs:local:000000000000:container\/wake\/[0-9a-f]{32}\/[0-9a-f-]{36}$/,
    );
    expect(task?.overrides?.containerOverrides?.[0]?.command).toEqual(['nginx', '-g', 'daemon off;']);

    expect(state.version).toBeGreaterThan(before.version);
    expect(state.tasks).toHaveLength(1);
    const desired = state.tasks[0];
    expect(desired).toMatchObject({
      taskArn,
      taskId: taskArn.split('/').pop(),
      desiredStatus: 'RUNNING',
      group: 'family:web',
      startedBy: 'me',
    });
    // Overrides are applied in what the agent gets: command replaced, environment merged.
    const app = desired?.taskDefinition.containerDefinitions[0];
    expect(app?.command).toEqual(['nginx', '-g', 'daemon off;']);
    expect(app?.environment).toEqual([
      { name: 'MODE', value: 'prod' },
      { name: 'X', value: '1' },
    ]);
    expect((await small.desired()).tasks).toEqual([]);
    expect(await remainingMemory('wake', big)).toBe(4096 - 512);
  });

  it('answers a long-poll at once when the agent is behind, and after the wait when nothing changed', async () => {
    const now = await big.desired(0);
    expect(now.tasks).toHaveLength(1);
    const t0 = performance.now();
    const same = await big.desired(now.version, 0.3);
    expect(performance.now() - t0).toBeGreaterThan(250);
    expect(same.version).toBe(now.version);
    expect(same.tasks).toHaveLength(1);
  });

  it('applies reports forward only: PENDING → RUNNING with bindings; a stale report changes nothing', async () => {
    const taskId = taskArn.split('/').pop() ?? '';
    const t = Date.now();
    await big.report([
      {
        taskId,
        lastStatus: 'PENDING',
        containers: [{ name: 'app', lastStatus: 'PENDING' }],
        pullStartedAt: t,
      },
    ]);
    const reply = await big.report([
      {
        taskId,
        lastStatus: 'RUNNING',
        pullStartedAt: t,
        pullStoppedAt: t + 100,
        startedAt: t + 200,
        containers: [
          {
            name: 'app',
            lastStatus: 'RUNNING',
            runtimeId: 'c0ffee',
            healthStatus: 'HEALTHY',
            networkBindings: [{ bindIP: '0.0.0.0', containerPort: 80, hostPort: 32768, protocol: 'tcp' }],
          },
        ],
      },
    ]);
    expect(reply.unknownTaskIds).toEqual([]);
    const described = await cp.ecs.send(new DescribeTasksCommand({ cluster: 'wake', tasks: [taskArn] }));
    const task = described.tasks?.[0];
    expect(task).toMatchObject({ lastStatus: 'RUNNING', desiredStatus: 'RUNNING', version: 3 });
    expect(task?.startedAt?.getTime()).toBe(t + 200);
    expect(task?.pullStoppedAt?.getTime()).toBe(t + 100);
    expect(task?.connectivityAt).toBeInstanceOf(Date);
    expect(task?.containers?.[0]).toMatchObject({
      lastStatus: 'RUNNING',
      runtimeId: 'c0ffee',
      healthStatus: 'HEALTHY',
      networkBindings: [{ bindIP: '0.0.0.0', containerPort: 80, hostPort: 32768, protocol: 'tcp' }],
    });

    // At-least-once delivery: an old PENDING report arriving late is ignored whole.
    await big.report([
      { taskId, lastStatus: 'PENDING', containers: [{ name: 'app', lastStatus: 'PENDING' }] },
    ]);
    // A thinner RUNNING report does not blank what is known.
    await big.report([
      { taskId, lastStatus: 'RUNNING', containers: [{ name: 'app', lastStatus: 'RUNNING' }] },
    ]);
    const again = (await cp.ecs.send(new DescribeTasksCommand({ cluster: 'wake', tasks: [taskId] })))
      .tasks?.[0];
    expect(again).toMatchObject({ lastStatus: 'RUNNING', version: 3 });
    expect(again?.containers?.[0]?.networkBindings).toHaveLength(1);
    expect(again?.containers?.[0]?.runtimeId).toBe('c0ffee');

    const clusters = await cp.ecs.send(new DescribeClustersCommand({ clusters: ['wake'] }));
    expect(clusters.clusters?.[0]).toMatchObject({ runningTasksCount: 1, pendingTasksCount: 0 });
  });

  it('ignores reports about tasks on another instance', async () => {
    const taskId = taskArn.split('/').pop() ?? '';
    const reply = await small.report([{ taskId, lastStatus: 'STOPPED', containers: [] }]);
    expect(reply.unknownTaskIds).toEqual([taskId]);
    const task = (await cp.ecs.send(new DescribeTasksCommand({ cluster: 'wake', tasks: [taskId] })))
      .tasks?.[0];
    expect(task?.lastStatus).toBe('RUNNING');
  });

  it('StopTask → the agent sees desiredStatus STOPPED → reports STOPPED → resources free up', async () => {
    const taskId = taskArn.split('/').pop() ?? '';
    const current = await big.desired();
    const poll = big.desired(current.version, 10);
    await new Promise((r) => setTimeout(r, 50));
    const sent = performance.now();
    const stop = await cp.ecs.send(
      new StopTaskCommand({ cluster: 'wake', task: taskArn, reason: 'scaling down' }),
    );
    expect(stop.task).toMatchObject({
      desiredStatus: 'STOPPED',
      lastStatus: 'RUNNING',
      stopCode: 'UserInitiated',
      stoppedReason: 'scaling down',
    });
    expect(stop.task?.stoppingAt).toBeInstanceOf(Date);
    const state = await poll;
    console.log(`StopTask reached the agent ${(performance.now() - sent).toFixed(1)} ms after it was sent`);
    expect(state.tasks[0]).toMatchObject({
      taskId,
      desiredStatus: 'STOPPED',
      stopCode: 'UserInitiated',
      stoppedReason: 'scaling down',
    });

    // Stopping again is harmless and keeps the first reason.
    const twice = await cp.ecs.send(new StopTaskCommand({ cluster: 'wake', task: taskId, reason: 'other' }));
    expect(twice.task?.stoppedReason).toBe('scaling down');

    const t = Date.now();
    await big.report([
      {
        taskId,
        lastStatus: 'STOPPED',
        stoppingAt: t,
        executionStoppedAt: t + 50,
        stoppedAt: t + 60,
        stopCode: 'EssentialContainerExited',
        containers: [{ name: 'app', lastStatus: 'STOPPED', exitCode: 0 }],
      },
    ]);
    const task = (await cp.ecs.send(new DescribeTasksCommand({ cluster: 'wake', tasks: [taskArn] })))
      .tasks?.[0];
    expect(task).toMatchObject({
      lastStatus: 'STOPPED',
      desiredStatus: 'STOPPED',
      stopCode: 'UserInitiated',
      stoppedReason: 'scaling down',
    });
    expect(task?.stoppedAt?.getTime()).toBe(t + 60);
    expect(task?.containers?.[0]).toMatchObject({ lastStatus: 'STOPPED', exitCode: 0 });
    expect(await remainingMemory('wake', big)).toBe(4096);
    expect((await big.desired()).tasks).toEqual([]);

    // A late RUNNING report cannot bring it back.
    await big.report([
      { taskId, lastStatus: 'RUNNING', containers: [{ name: 'app', lastStatus: 'RUNNING' }] },
    ]);
    const still = (await cp.ecs.send(new DescribeTasksCommand({ cluster: 'wake', tasks: [taskArn] })))
      .tasks?.[0];
    expect(still?.lastStatus).toBe('STOPPED');

    const running = await cp.ecs.send(new ListTasksCommand({ cluster: 'wake' }));
    expect(running.taskArns).toEqual([]);
    const stopped = await cp.ecs.send(new ListTasksCommand({ cluster: 'wake', desiredStatus: 'STOPPED' }));
    expect(stopped.taskArns).toEqual([taskArn]);
    await expect(
      cp.ecs.send(new StopTaskCommand({ cluster: 'wake', task: 'f'.repeat(32) })),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
  });
});

describe('placement decisions and their failures', () => {
  it('answers at once a long-poll that follows an answer a change has since overtaken', async () => {
    // The answer lets this process skip the next poll's read of the version; the change committed in
    // between must still be seen, by the wake-up it published.
    await cluster('overtaken');
    const agent = await registerAgent(cp, { cluster: 'overtaken' });
    await taskDefinition('tiny', { memory: 64 });
    const answer = await agent.desired(0);
    const run = await cp.ecs.send(new RunTaskCommand({ cluster: 'overtaken', taskDefinition: 'tiny' }));
    const placedId = run.tasks?.[0]?.taskArn?.split('/').pop();
    expect(placedId).toMatch(/^[0-9a-f]{32}$/);
    const t0 = performance.now();
    const next = await agent.desired(answer.version, 5);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(next.version).toBeGreaterThan(answer.version);
    expect(next.tasks.map((t) => t.taskId)).toEqual([placedId]);
  });

  it('spreads count 3 over three instances', async () => {
    await cluster('spread');
    const agents = [
      await registerAgent(cp, { cluster: 'spread' }),
      await registerAgent(cp, { cluster: 'spread' }),
      await registerAgent(cp, { cluster: 'spread' }),
    ];
    await taskDefinition('spready');
    const run = await cp.ecs.send(
      new RunTaskCommand({
        cluster: 'spread',
        taskDefinition: 'spready',
        count: 3,
        placementStrategy: [{ type: 'spread', field: 'instanceId' }],
      }),
    );
    expect(run.failures).toEqual([]);
    const hosts = new Set(run.tasks?.map((t) => t.containerInstanceArn));
    expect(hosts).toEqual(new Set(agents.map((a) => a.arn)));
    for (const agent of agents) expect((await agent.desired()).tasks).toHaveLength(1);
  });

  it('binpacks on memory: fills the fuller host first', async () => {
    await cluster('binpack');
    await registerAgent(cp, { cluster: 'binpack', memory: 4096 });
    const fuller = await registerAgent(cp, { cluster: 'binpack', memory: 1024 });
    await taskDefinition('packed');
    const run = await cp.ecs.send(
      new RunTaskCommand({
        cluster: 'binpack',
        taskDefinition: 'packed',
        count: 2,
        placementStrategy: [{ type: 'binpack', field: 'memory' }],
      }),
    );
    expect(run.tasks?.map((t) => t.containerInstanceArn)).toEqual([fuller.arn, fuller.arn]);
  });

  it('reports a task too big for every instance as RESOURCE:MEMORY, naming the instance', async () => {
    await cluster('tight');
    const agent = await registerAgent(cp, { cluster: 'tight', memory: 256 });
    await taskDefinition('huge', { memory: 1024 });
    const before = await counts();
    const run = await cp.ecs.send(new RunTaskCommand({ cluster: 'tight', taskDefinition: 'huge' }));
    expect(run.tasks).toEqual([]);
    expect(run.failures).toHaveLength(1);
    expect(run.failures?.[0]).toMatchObject({ arn: agent.arn, reason: 'RESOURCE:MEMORY' });
    expect(run.failures?.[0]?.detail).toContain(agent.id);
    console.log(`failure detail: ${run.failures?.[0]?.detail}`);
    // No phantom task: only the request itself was stored.
    const after = await counts();
    expect(after?.tasks).toBe(before?.tasks);
    expect(
      await cp.ecs.send(new ListTasksCommand({ cluster: 'tight', desiredStatus: 'STOPPED' })),
    ).toMatchObject({
      taskArns: [],
    });
  });

  it('refuses a second task on a static host port: RESOURCE:PORTS', async () => {
    await cluster('ports');
    const agent = await registerAgent(cp, { cluster: 'ports' });
    await taskDefinition('static', { portMappings: [{ containerPort: 80, hostPort: 8080 }] });
    const first = await cp.ecs.send(new RunTaskCommand({ cluster: 'ports', taskDefinition: 'static' }));
    expect(first.tasks).toHaveLength(1);
    const second = await cp.ecs.send(new RunTaskCommand({ cluster: 'ports', taskDefinition: 'static' }));
    expect(second.tasks).toEqual([]);
    expect(second.failures?.[0]).toMatchObject({ arn: agent.arn, reason: 'RESOURCE:PORTS' });
    expect(second.failures?.[0]?.detail).toContain('8080/tcp');
    const ci = await cp.ecs.send(
      new DescribeContainerInstancesCommand({ cluster: 'ports', containerInstances: [agent.id] }),
    );
    expect(
      ci.containerInstances?.[0]?.remainingResources?.find((r) => r.name === 'PORTS')?.stringSetValue,
    ).toEqual(['22', '8080']);
  });

  it('stores each placed task whole: its overrides, containers, reservations and the columns left to defaults', async () => {
    await cluster('stored');
    const agent = await registerAgent(cp, { cluster: 'stored' });
    await taskDefinition('kept', { portMappings: [{ containerPort: 80, hostPort: 8081 }] });
    const run = await cp.ecs.send(
      new RunTaskCommand({
        cluster: 'stored',
        taskDefinition: 'kept',
        startedBy: 'me',
        overrides: { containerOverrides: [{ name: 'app', command: ['echo', 'quoted "x"'] }] },
      }),
    );
    const id = run.tasks?.[0]?.taskArn?.split('/').pop() ?? '';
    const [row] = await cp.database.sql`select * from tasks where id = ${id}`;
    expect(row).toMatchObject({
      container_instance_id: agent.id,
      family: 'kept',
      group: 'family:kept',
      started_by: 'me',
      service_id: null,
      launch_type: 'EC2',
      last_status: 'PROVISIONING',
      desired_status: 'RUNNING',
      health_status: 'UNKNOWN',
      version: 1,
      reserved_cpu: 128,
      reserved_memory: 128,
      reserved_ports: ['tcp:8081'],
      overrides: { containerOverrides: [{ name: 'app', command: ['echo', 'quoted "x"'] }] },
      containers: [
        {
          name: 'app',
          image: 'nginx:1.27',
          cpu: 128,
          memory: 128,
          lastStatus: 'PENDING',
          networkBindings: [],
        },
      ],
    });
    expect(Date.now() - new Date(row?.created_at).getTime()).toBeLessThan(60_000);
    expect(row?.updated_at).toEqual(row?.created_at);
  });

  it('skips an instance whose agent stopped heartbeating: AGENT', async () => {
    await cluster('stale');
    const agent = await registerAgent(cp, { cluster: 'stale' });
    await taskDefinition('lonely');
    // Liveness is on Postgres' clock (contacts are written with now()), so the contact is aged there.
    await cp.database.sql`
      update container_instances
      set last_heartbeat_at = now() - make_interval(secs => ${(cp.settings.agentTimeoutMs + 5_000) / 1000})
      where id = ${agent.id}`;
    const run = await cp.ecs.send(new RunTaskCommand({ cluster: 'stale', taskDefinition: 'lonely' }));
    expect(run.tasks).toEqual([]);
    expect(run.failures?.[0]).toMatchObject({ arn: agent.arn, reason: 'AGENT' });
    // A report is a heartbeat: the instance is usable again.
    await agent.report([]);
    const again = await cp.ecs.send(new RunTaskCommand({ cluster: 'stale', taskDefinition: 'lonely' }));
    expect(again.tasks).toHaveLength(1);
  });

  it('honours memberOf on a custom attribute and distinctInstance', async () => {
    await cluster('attrs');
    await registerAgent(cp, { cluster: 'attrs', attributes: [{ name: 'disk', value: 'hdd' }] });
    const ssd1 = await registerAgent(cp, { cluster: 'attrs', attributes: [{ name: 'disk', value: 'ssd' }] });
    const ssd2 = await registerAgent(cp, { cluster: 'attrs', attributes: [{ name: 'disk', value: 'ssd' }] });
    await taskDefinition('db');
    const run = await cp.ecs.send(
      new RunTaskCommand({
        cluster: 'attrs',
        taskDefinition: 'db',
        count: 3,
        placementConstraints: [
          { type: 'memberOf', expression: 'attribute:disk == ssd' },
          { type: 'distinctInstance' },
        ],
      }),
    );
    expect(new Set(run.tasks?.map((t) => t.containerInstanceArn))).toEqual(new Set([ssd1.arn, ssd2.arn]));
    expect(run.tasks).toHaveLength(2);
    expect(run.failures?.map((f) => f.reason).sort()).toEqual(['ATTRIBUTE', 'ATTRIBUTE', 'ATTRIBUTE']);
  });

  it('makes RunTask idempotent with clientToken', async () => {
    await cluster('token');
    await registerAgent(cp, { cluster: 'token' });
    await taskDefinition('once');
    const input = { cluster: 'token', taskDefinition: 'once', count: 2, clientToken: 'retry-me-1' };
    const first = await cp.ecs.send(new RunTaskCommand(input));
    const second = await cp.ecs.send(new RunTaskCommand(input));
    expect(first.tasks).toHaveLength(2);
    expect(second.tasks?.map((t) => t.taskArn)).toEqual(first.tasks?.map((t) => t.taskArn));
    const list = await cp.ecs.send(new ListTasksCommand({ cluster: 'token' }));
    expect(list.taskArns).toHaveLength(2);
    const third = await cp.ecs.send(new RunTaskCommand({ ...input, clientToken: 'retry-me-2' }));
    expect(third.tasks?.[0]?.taskArn).not.toBe(first.tasks?.[0]?.taskArn);
  });

  it('StartTask runs on exactly the named instances and reports the rest per instance', async () => {
    await cluster('start');
    const a = await registerAgent(cp, { cluster: 'start', memory: 1024 });
    const b = await registerAgent(cp, { cluster: 'start', memory: 100 });
    await taskDefinition('pinned');
    const missing = '00000000-0000-4000-8000-000000000000';
    const out = await cp.ecs.send(
      new StartTaskCommand({
        cluster: 'start',
        taskDefinition: 'pinned',
        containerInstances: [a.arn, b.id, missing],
      }),
    );
    expect(out.tasks?.map((t) => t.containerInstanceArn)).toEqual([a.arn]);
    expect(out.failures).toEqual([
      expect.objectContaining({ arn: b.arn, reason: 'RESOURCE:MEMORY' }),
      expect.objectContaining({ arn: expect.stringContaining(missing), reason: 'MISSING' }),
    ]);
  });
});

describe('ListTasks and DescribeTasks', () => {
  it('filters by family, startedBy, containerInstance and pages', async () => {
    await cluster('lists');
    const a = await registerAgent(cp, { cluster: 'lists' });
    const b = await registerAgent(cp, { cluster: 'lists' });
    await taskDefinition('alpha');
    await taskDefinition('beta');
    await cp.ecs.send(
      new StartTaskCommand({ cluster: 'lists', taskDefinition: 'alpha', containerInstances: [a.id, b.id] }),
    );
    await cp.ecs.send(
      new StartTaskCommand({
        cluster: 'lists',
        taskDefinition: 'beta',
        containerInstances: [a.id],
        startedBy: 'ci',
      }),
    );
    const all = await cp.ecs.send(new ListTasksCommand({ cluster: 'lists' }));
    expect(all.taskArns).toHaveLength(3);
    expect(
      (await cp.ecs.send(new ListTasksCommand({ cluster: 'lists', family: 'alpha' }))).taskArns,
    ).toHaveLength(2);
    expect(
      (await cp.ecs.send(new ListTasksCommand({ cluster: 'lists', startedBy: 'ci' }))).taskArns,
    ).toHaveLength(1);
    expect(
      (await cp.ecs.send(new ListTasksCommand({ cluster: 'lists', containerInstance: a.arn }))).taskArns,
    ).toHaveLength(2);
    expect(
      (await cp.ecs.send(new ListTasksCommand({ cluster: 'lists', serviceName: 'none' }))).taskArns,
    ).toHaveLength(0);

    const seen: string[] = [];
    let nextToken: string | undefined;
    do {
      const pageOut = await cp.ecs.send(new ListTasksCommand({ cluster: 'lists', maxResults: 2, nextToken }));
      seen.push(...(pageOut.taskArns ?? []));
      nextToken = pageOut.nextToken;
    } while (nextToken);
    expect(seen.sort()).toEqual([...(all.taskArns ?? [])].sort());

    const described = await cp.ecs.send(
      new DescribeTasksCommand({
        cluster: 'lists',
        tasks: [...(all.taskArns ?? []), 'a'.repeat(32)],
        include: ['TAGS'],
      }),
    );
    expect(described.tasks).toHaveLength(3);
    expect(described.tasks?.[0]?.tags).toEqual([]);
    expect(described.failures).toEqual([
      { arn: `arn:aws:ecs:local:000000000000:task/lists/${'a'.repeat(32)}`, reason: 'MISSING' },
    ]);
  });

  it('does not describe or stop a task through another cluster', async () => {
    await cluster('mine');
    await cluster('theirs');
    await registerAgent(cp, { cluster: 'mine' });
    await taskDefinition('owned');
    const run = await cp.ecs.send(new RunTaskCommand({ cluster: 'mine', taskDefinition: 'owned' }));
    const taskId = run.tasks?.[0]?.taskArn?.split('/').pop() ?? '';
    expect(taskId).toMatch(/^[0-9a-f]{32}$/);

    const described = await cp.ecs.send(new DescribeTasksCommand({ cluster: 'theirs', tasks: [taskId] }));
    expect(described.tasks).toEqual([]);
    expect(described.failures).toEqual([
      { arn: `arn:aws:ecs:local:000000000000:task/theirs/${taskId}`, reason: 'MISSING' },
    ]);
    await expect(cp.ecs.send(new StopTaskCommand({ cluster: 'theirs', task: taskId }))).rejects.toMatchObject(
      {
        name: 'InvalidParameterException',
      },
    );
    const mine = await cp.ecs.send(new DescribeTasksCommand({ cluster: 'mine', tasks: [taskId] }));
    expect(mine.tasks?.[0]?.desiredStatus).toBe('RUNNING');
  });

  it('returns tags given to RunTask', async () => {
    await cluster('tagged');
    await registerAgent(cp, { cluster: 'tagged' });
    await taskDefinition('tagme');
    const run = await cp.ecs.send(
      new RunTaskCommand({
        cluster: 'tagged',
        taskDefinition: 'tagme',
        tags: [{ key: 'team', value: 'core' }],
      }),
    );
    const arn = run.tasks?.[0]?.taskArn ?? '';
    const out = await cp.ecs.send(
      new DescribeTasksCommand({ cluster: 'tagged', tasks: [arn], include: ['TAGS'] }),
    );
    expect(out.tasks?.[0]?.tags).toEqual([{ key: 'team', value: 'core' }]);
  });
});

describe('bad input gives the ECS error and stores nothing', () => {
  beforeAll(async () => {
    await cluster('strict');
    await registerAgent(cp, { cluster: 'strict' });
    await taskDefinition('fine');
    await taskDefinition('fine');
    await cp.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'fine:1' }));
  });

  const cases: [string, Record<string, unknown>, string, RegExp?][] = [
    ['count 11', { count: 11 }, 'InvalidParameterException'],
    ['count 0', { count: 0 }, 'InvalidParameterException'],
    ['an unknown task definition', { taskDefinition: 'nope' }, 'ClientException', /TaskDefinition not found/],
    ['an inactive revision', { taskDefinition: 'fine:1' }, 'ClientException', /TaskDefinition is inactive/],
    [
      'a memberOf syntax error',
      { placementConstraints: [{ type: 'memberOf', expression: 'attribute:x ==' }] },
      'InvalidParameterException',
    ],
    [
      'memberOf without expression',
      { placementConstraints: [{ type: 'memberOf' }] },
      'InvalidParameterException',
    ],
    [
      'a bad strategy field',
      { placementStrategy: [{ type: 'binpack', field: 'disk' }] },
      'InvalidParameterException',
    ],
    [
      'an override of an unknown container',
      { overrides: { containerOverrides: [{ name: 'ghost' }] } },
      'InvalidParameterException',
    ],
    ['an unknown cluster', { cluster: 'nowhere' }, 'ClusterNotFoundException'],
    ['FARGATE', { launchType: 'FARGATE' }, 'UnsupportedFeatureException'],
  ];

  it.each(cases)('%s', async (_name, patch, code, message) => {
    const before = await counts();
    const error = await cp.ecs
      .send(new RunTaskCommand({ cluster: 'strict', taskDefinition: 'fine', ...patch }))
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(error?.name).toBe(code);
    if (message) expect(error?.message).toMatch(message);
    expect(await counts()).toEqual(before);
  });

  it('refuses RunTask in a cluster without container instances', async () => {
    await cluster('empty');
    await expect(
      cp.ecs.send(new RunTaskCommand({ cluster: 'empty', taskDefinition: 'fine' })),
    ).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: 'No Container Instances were found in your cluster.',
    });
  });
});
