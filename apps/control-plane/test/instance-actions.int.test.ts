import {
  type Attribute,
  CreateClusterCommand,
  DeleteAttributesCommand,
  DeregisterContainerInstanceCommand,
  DescribeClustersCommand,
  DescribeContainerInstancesCommand,
  DescribeTasksCommand,
  ListAttributesCommand,
  ListContainerInstancesCommand,
  PutAttributesCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StartTaskCommand,
  UpdateContainerInstancesStateCommand,
} from '@aws-sdk/client-ecs';
import { startControlPlane, type TestControlPlane } from '@bosun/testkit/control-plane-in-process';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeAgent, registerAgent } from './fake-agent.ts';

let cp: TestControlPlane;
beforeAll(async () => {
  cp = await startControlPlane();
  await cp.ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'web',
      containerDefinitions: [{ name: 'app', image: 'nginx:1.27', memory: 128, cpu: 128 }],
    }),
  );
});
afterAll(async () => {
  await cp?.close();
});

const ghost = '00000000-0000-4000-8000-000000000000';

async function cluster(name: string): Promise<string> {
  await cp.ecs.send(new CreateClusterCommand({ clusterName: name }));
  return name;
}

/** An agent whose registration carries the agent's own attributes, as apps/agent sends them. */
function agent(clusterName: string, hostname: string, extra: { name: string; value: string }[] = []) {
  return registerAgent(cp, {
    cluster: clusterName,
    hostname,
    attributes: [
      { name: 'bosun.os-type', value: 'linux' },
      { name: 'bosun.hostname', value: hostname },
      { name: 'bosun.zone', value: `zone-${hostname}` },
      ...extra,
    ],
  });
}

async function attributesOf(clusterName: string, a: FakeAgent) {
  const out = await cp.ecs.send(
    new DescribeContainerInstancesCommand({ cluster: clusterName, containerInstances: [a.id] }),
  );
  return out.containerInstances?.[0]?.attributes ?? [];
}

async function describe1(clusterName: string, a: FakeAgent) {
  const out = await cp.ecs.send(
    new DescribeContainerInstancesCommand({ cluster: clusterName, containerInstances: [a.id] }),
  );
  return out.containerInstances?.[0];
}

async function listIds(input: { cluster: string; filter?: string; status?: string; maxResults?: number }) {
  const ids: string[] = [];
  let nextToken: string | undefined;
  do {
    const out = await cp.ecs.send(
      new ListContainerInstancesCommand({
        ...input,
        status: input.status as 'ACTIVE' | undefined,
        ...(nextToken ? { nextToken } : {}),
      }),
    );
    ids.push(...(out.containerInstanceArns ?? []).map((a) => a.split('/').pop() ?? ''));
    nextToken = out.nextToken;
  } while (nextToken);
  return ids.sort();
}

async function describeTask(clusterName: string, taskArn: string) {
  const out = await cp.ecs.send(new DescribeTasksCommand({ cluster: clusterName, tasks: [taskArn] }));
  return out.tasks?.[0];
}

async function report(a: FakeAgent, taskArn: string, lastStatus: 'PENDING' | 'RUNNING') {
  await a.report([
    { taskId: taskArn.split('/').pop() ?? '', lastStatus, containers: [{ name: 'app', lastStatus }] },
  ]);
}

async function startOn(clusterName: string, a: FakeAgent, group?: string): Promise<string> {
  const out = await cp.ecs.send(
    new StartTaskCommand({
      cluster: clusterName,
      taskDefinition: 'web',
      containerInstances: [a.id],
      ...(group ? { group } : {}),
    }),
  );
  expect(out.failures).toEqual([]);
  return out.tasks?.[0]?.taskArn ?? '';
}

async function heartbeat(a: FakeAgent) {
  const res = await fetch(`${cp.endpoint}/agent/v1/heartbeat`, {
    method: 'POST',
    dispatcher: a.dispatcher,
    headers: { authorization: `Bearer ${a.registration.credential}`, 'content-type': 'application/json' },
    body: JSON.stringify({ hostname: 'renamed' }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const custom = (name: string, value: string | undefined, targetId: string): Attribute => ({
  name,
  ...(value === undefined ? {} : { value }),
  targetType: 'container-instance',
  targetId,
});

describe('PutAttributes / ListAttributes / DeleteAttributes', () => {
  let a: FakeAgent;
  let b: FakeAgent;
  let other: FakeAgent;

  beforeAll(async () => {
    await cluster('attrs');
    await cluster('elsewhere');
    a = await agent('attrs', 'a', [{ name: 'rack', value: 'r1' }]);
    b = await agent('attrs', 'b');
    other = await agent('elsewhere', 'o');
  });

  it('puts custom attributes by id or ARN, shows them everywhere, and overwrites its own', async () => {
    const put = await cp.ecs.send(
      new PutAttributesCommand({
        cluster: 'attrs',
        attributes: [
          custom('stage', 'blue', a.id),
          { name: 'gpu', targetId: b.arn }, // an ARN says what it is; a valueless attribute is fine
        ],
      }),
    );
    expect(put.attributes).toEqual([
      { name: 'stage', value: 'blue', targetType: 'container-instance', targetId: a.arn },
      { name: 'gpu', targetType: 'container-instance', targetId: b.arn },
    ]);
    expect(await attributesOf('attrs', a)).toContainEqual({ name: 'stage', value: 'blue' });
    expect(await attributesOf('attrs', b)).toContainEqual({ name: 'gpu' });
    // ECS's shape only: who owns an attribute is not on the wire.
    expect(JSON.stringify(await attributesOf('attrs', a))).not.toContain('custom');

    await cp.ecs.send(
      new PutAttributesCommand({ cluster: 'attrs', attributes: [custom('stage', 'green', a.id)] }),
    );
    const attrs = await attributesOf('attrs', a);
    expect(attrs.filter((x) => x.name === 'stage')).toEqual([{ name: 'stage', value: 'green' }]);
  });

  it('lists attributes with name and value filters, paged by maxResults', async () => {
    const all = await cp.ecs.send(
      new ListAttributesCommand({ cluster: 'attrs', targetType: 'container-instance' }),
    );
    const names = (all.attributes ?? []).map((x) => `${x.targetId?.split('/').pop()}:${x.name}`);
    expect(names).toEqual(
      expect.arrayContaining([`${a.id}:bosun.zone`, `${a.id}:rack`, `${a.id}:stage`, `${b.id}:gpu`]),
    );
    expect(names.some((n) => n.startsWith(other.id))).toBe(false);

    const byName = await cp.ecs.send(
      new ListAttributesCommand({
        cluster: 'attrs',
        targetType: 'container-instance',
        attributeName: 'stage',
      }),
    );
    expect(byName.attributes).toEqual([
      { name: 'stage', value: 'green', targetType: 'container-instance', targetId: a.arn },
    ]);
    const byValue = await cp.ecs.send(
      new ListAttributesCommand({
        cluster: 'attrs',
        targetType: 'container-instance',
        attributeName: 'bosun.zone',
        attributeValue: 'zone-b',
      }),
    );
    expect(byValue.attributes?.map((x) => x.targetId)).toEqual([b.arn]);

    const paged: string[] = [];
    let nextToken: string | undefined;
    do {
      const out = await cp.ecs.send(
        new ListAttributesCommand({
          cluster: 'attrs',
          targetType: 'container-instance',
          maxResults: 2,
          ...(nextToken ? { nextToken } : {}),
        }),
      );
      expect((out.attributes ?? []).length).toBeLessThanOrEqual(2);
      paged.push(...(out.attributes ?? []).map((x) => `${x.targetId?.split('/').pop()}:${x.name}`));
      nextToken = out.nextToken;
    } while (nextToken);
    expect(paged).toEqual(names);

    await expect(
      cp.ecs.send(
        new ListAttributesCommand({
          cluster: 'attrs',
          targetType: 'container-instance',
          attributeValue: 'x',
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(
      cp.ecs.send(
        new ListAttributesCommand({ cluster: 'attrs', targetType: 'container-instance', nextToken: 'bogus' }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
  });

  it('refuses to touch the agent’s own attributes (bosun.* and its config) and stores nothing', async () => {
    const before = await attributesOf('attrs', a);
    for (const name of ['bosun.zone', 'bosun.new-thing', 'rack']) {
      await expect(
        cp.ecs.send(
          new PutAttributesCommand({
            cluster: 'attrs',
            attributes: [custom('fine', 'x', a.id), custom(name, 'evil', a.id)],
          }),
        ),
      ).rejects.toMatchObject({ name: 'ClientException' });
      await expect(
        cp.ecs.send(
          new DeleteAttributesCommand({ cluster: 'attrs', attributes: [custom(name, undefined, a.id)] }),
        ),
      ).rejects.toMatchObject({ name: 'ClientException' });
    }
    expect(await attributesOf('attrs', a)).toEqual(before);
  });

  it('limits: 10 attributes per call, 10 custom attributes per instance (the agent’s do not count)', async () => {
    const eleven = Array.from({ length: 11 }, (_, i) => custom(`k${i}`, 'v', b.id));
    await expect(
      cp.ecs.send(new PutAttributesCommand({ cluster: 'attrs', attributes: eleven })),
    ).rejects.toMatchObject({ name: 'AttributeLimitExceededException' });

    // b has gpu already: nine more make ten.
    const nine = Array.from({ length: 9 }, (_, i) => custom(`k${i}`, 'v', b.id));
    await cp.ecs.send(new PutAttributesCommand({ cluster: 'attrs', attributes: nine }));
    const atLimit = await attributesOf('attrs', b);
    // Overwriting one of the ten is fine; an eleventh is not, and the call stores nothing.
    await cp.ecs.send(new PutAttributesCommand({ cluster: 'attrs', attributes: [custom('k0', 'w', b.id)] }));
    await expect(
      cp.ecs.send(
        new PutAttributesCommand({
          cluster: 'attrs',
          attributes: [custom('k1', 'changed', b.id), custom('eleventh', 'v', b.id)],
        }),
      ),
    ).rejects.toMatchObject({
      name: 'AttributeLimitExceededException',
      message: expect.stringContaining('up to 10 custom attributes'),
    });
    const after = await attributesOf('attrs', b);
    expect(after.find((x) => x.name === 'k1')?.value).toBe('v');
    expect(after.map((x) => x.name)).toEqual(atLimit.map((x) => x.name));

    await cp.ecs.send(
      new DeleteAttributesCommand({
        cluster: 'attrs',
        attributes: nine.map((x) => ({ name: x.name, targetId: b.arn })),
      }),
    );
    expect((await attributesOf('attrs', b)).map((x) => x.name).sort()).toEqual([
      'bosun.hostname',
      'bosun.os-type',
      'bosun.zone',
      'gpu',
    ]);
  });

  it('unknown targets are TargetNotFoundException, bad shapes InvalidParameterException; nothing stored', async () => {
    const before = await attributesOf('attrs', a);
    for (const targetId of [ghost, other.id, other.arn, 'not-an-id']) {
      await expect(
        cp.ecs.send(
          new PutAttributesCommand({
            cluster: 'attrs',
            attributes: [custom('stage', 'red', a.id), custom('x', 'y', targetId)],
          }),
        ),
      ).rejects.toMatchObject({ name: 'TargetNotFoundException' });
    }
    await expect(
      cp.ecs.send(
        new DeleteAttributesCommand({ cluster: 'attrs', attributes: [custom('stage', undefined, ghost)] }),
      ),
    ).rejects.toMatchObject({ name: 'TargetNotFoundException' });
    const bad: Attribute[][] = [
      [{ name: 'x', value: 'y', targetId: a.id }], // short id without targetType
      [{ name: 'x', value: 'y', targetType: 'container-instance' }], // no target
      [custom('has space', 'y', a.id)],
      [custom('x'.repeat(129), 'y', a.id)],
      [custom('x', 'v'.repeat(129), a.id)],
      [custom('x', ' leading', a.id)],
      [custom('x', 'y', a.id), custom('x', 'z', a.arn)], // the same attribute twice
      [{ name: 'x', targetId: 'arn:aws:ecs:local:000000000000:task/attrs/0123456789abcdef0123456789abcdef' }],
    ];
    for (const attributes of bad) {
      await expect(
        cp.ecs.send(new PutAttributesCommand({ cluster: 'attrs', attributes })),
      ).rejects.toMatchObject({ name: 'InvalidParameterException' });
    }
    await expect(
      cp.ecs.send(new PutAttributesCommand({ cluster: 'nope', attributes: [custom('x', 'y', a.id)] })),
    ).rejects.toMatchObject({ name: 'ClusterNotFoundException' });
    expect(await attributesOf('attrs', a)).toEqual(before);
  });

  it('deletes custom attributes; deleting a missing one is a no-op', async () => {
    const out = await cp.ecs.send(
      new DeleteAttributesCommand({
        cluster: 'attrs',
        attributes: [custom('gpu', undefined, b.id), custom('never-set', undefined, b.id)],
      }),
    );
    expect(out.attributes?.map((x) => x.name)).toEqual(['gpu', 'never-set']);
    expect((await attributesOf('attrs', b)).some((x) => x.name === 'gpu')).toBe(false);
  });

  it('API-set attributes survive the agent’s heartbeats and reports', async () => {
    expect((await heartbeat(a)).status).toBe(200);
    await a.report([]);
    expect(await attributesOf('attrs', a)).toContainEqual({ name: 'stage', value: 'green' });
    expect(await attributesOf('attrs', a)).toContainEqual({ name: 'rack', value: 'r1' });
  });
});

describe('ListContainerInstances filter and status', () => {
  let x: FakeAgent;
  let y: FakeAgent;
  let z: FakeAgent;

  beforeAll(async () => {
    await cluster('filters');
    x = await agent('filters', 'x', [{ name: 'disk', value: 'ssd' }]);
    y = await agent('filters', 'y', [{ name: 'disk', value: 'ssd' }]);
    z = await agent('filters', 'z', [{ name: 'disk', value: 'hdd' }]);
    await cp.ecs.send(
      new PutAttributesCommand({ cluster: 'filters', attributes: [custom('stage', 'blue', x.id)] }),
    );
    await report(y, await startOn('filters', y), 'RUNNING');
  });

  it('evaluates the cluster query language against attributes and task counts', async () => {
    expect(await listIds({ cluster: 'filters', filter: 'attribute:disk == ssd' })).toEqual(
      [x.id, y.id].sort(),
    );
    expect(
      await listIds({ cluster: 'filters', filter: 'attribute:disk == ssd and runningTasksCount == 0' }),
    ).toEqual([x.id]);
    expect(await listIds({ cluster: 'filters', filter: 'attribute:stage exists' })).toEqual([x.id]);
    expect(
      await listIds({
        cluster: 'filters',
        filter: 'attribute:bosun.zone in [zone-y, zone-z] or attribute:stage == blue',
      }),
    ).toEqual([x.id, y.id, z.id].sort());
    expect(await listIds({ cluster: 'filters', filter: 'task:group == family:web' })).toEqual([y.id]);
    expect(await listIds({ cluster: 'filters', filter: 'not(attribute:disk =~ s.*)' })).toEqual([z.id]);
    expect(await listIds({ cluster: 'filters', filter: 'agentConnected == true', maxResults: 1 })).toEqual(
      [x.id, y.id, z.id].sort(),
    );
    expect(await listIds({ cluster: 'filters', filter: 'attribute:disk == nvme' })).toEqual([]);
  });

  it('a syntax error is InvalidParameterException naming the position', async () => {
    await expect(
      cp.ecs.send(new ListContainerInstancesCommand({ cluster: 'filters', filter: 'attribute:disk ==' })),
    ).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: expect.stringMatching(/^filter: .*\(position \d+\)\.$/),
    });
    await expect(
      cp.ecs.send(new ListContainerInstancesCommand({ cluster: 'filters', filter: 'runningTasksCount >' })),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
  });

  it('status narrows to one status and combines with filter', async () => {
    expect(await listIds({ cluster: 'filters', status: 'DRAINING' })).toEqual([]);
    await cp.ecs.send(
      new UpdateContainerInstancesStateCommand({
        cluster: 'filters',
        containerInstances: [y.id],
        status: 'DRAINING',
      }),
    );
    expect(await listIds({ cluster: 'filters', status: 'DRAINING' })).toEqual([y.id]);
    expect(await listIds({ cluster: 'filters', status: 'ACTIVE' })).toEqual([x.id, z.id].sort());
    expect(await listIds({ cluster: 'filters', status: 'ACTIVE', filter: 'attribute:disk == ssd' })).toEqual([
      x.id,
    ]);
    // Without status: every status but INACTIVE.
    expect(await listIds({ cluster: 'filters' })).toEqual([x.id, y.id, z.id].sort());
    await expect(
      cp.ecs.send(new ListContainerInstancesCommand({ cluster: 'filters', status: 'INACTIVE' as 'ACTIVE' })),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
  });
});

describe('UpdateContainerInstancesState', () => {
  let d1: FakeAgent;
  let d2: FakeAgent;
  let standalone = '';
  let serviceTask = '';
  let runningServiceTask = '';

  beforeAll(async () => {
    await cluster('drain');
    d1 = await agent('drain', 'd1');
    d2 = await agent('drain', 'd2');
    standalone = await startOn('drain', d1);
    await report(d1, standalone, 'RUNNING');
    runningServiceTask = await startOn('drain', d1, 'service:api');
    await report(d1, runningServiceTask, 'RUNNING');
    serviceTask = await startOn('drain', d1, 'service:web');
  });

  it('DRAINING stops unstarted service tasks at once, leaves running and standalone tasks alone', async () => {
    const before = await d1.desired();
    const poll = d1.desired(before.version, 10);
    const out = await cp.ecs.send(
      new UpdateContainerInstancesStateCommand({
        cluster: 'drain',
        containerInstances: [d1.arn, ghost],
        status: 'DRAINING',
      }),
    );
    expect(out.containerInstances).toHaveLength(1);
    expect(out.containerInstances?.[0]).toMatchObject({
      containerInstanceArn: d1.arn,
      status: 'DRAINING',
      agentConnected: true,
      runningTasksCount: 2,
      pendingTasksCount: 1,
    });
    expect(out.failures).toEqual([
      { arn: `arn:aws:ecs:local:000000000000:container-instance/drain/${ghost}`, reason: 'MISSING' },
    ]);

    expect(await describeTask('drain', serviceTask)).toMatchObject({
      desiredStatus: 'STOPPED',
      lastStatus: 'PROVISIONING',
      stopCode: 'ServiceSchedulerInitiated',
      stoppedReason: 'Container instance is draining',
    });
    expect(await describeTask('drain', standalone)).toMatchObject({
      desiredStatus: 'RUNNING',
      lastStatus: 'RUNNING',
    });
    // Started service tasks are the services scheduler's to replace within its min/max percent.
    expect(await describeTask('drain', runningServiceTask)).toMatchObject({ desiredStatus: 'RUNNING' });

    // The agent was woken and told.
    const state = await poll;
    expect(state.version).toBeGreaterThan(before.version);
    const byId = new Map(state.tasks.map((t) => [t.taskArn, t]));
    expect(byId.get(serviceTask)).toMatchObject({
      desiredStatus: 'STOPPED',
      stopCode: 'ServiceSchedulerInitiated',
    });
    expect(byId.get(standalone)?.desiredStatus).toBe('RUNNING');

    // Draining again is a no-op that still answers with the instance.
    const again = await cp.ecs.send(
      new UpdateContainerInstancesStateCommand({
        cluster: 'drain',
        containerInstances: [d1.id],
        status: 'DRAINING',
      }),
    );
    expect(again.containerInstances?.[0]?.status).toBe('DRAINING');
    expect((await d1.desired()).version).toBe(state.version);
  });

  it('a draining instance gets no new task: RunTask places elsewhere or fails with DRAINING', async () => {
    for (let i = 0; i < 3; i++) {
      const run = await cp.ecs.send(new RunTaskCommand({ cluster: 'drain', taskDefinition: 'web' }));
      expect(run.failures).toEqual([]);
      expect(run.tasks?.[0]?.containerInstanceArn).toBe(d2.arn);
    }
    const pinned = await cp.ecs.send(
      new RunTaskCommand({
        cluster: 'drain',
        taskDefinition: 'web',
        placementConstraints: [{ type: 'memberOf', expression: 'attribute:bosun.hostname == d1' }],
      }),
    );
    expect(pinned.tasks).toEqual([]);
    // One failure per instance that rejected the task: d2 for the constraint, d1 for draining.
    expect(pinned.failures).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ arn: d1.arn, reason: 'DRAINING' }),
        expect.objectContaining({ arn: d2.arn, reason: 'ATTRIBUTE' }),
      ]),
    );
    const started = await cp.ecs.send(
      new StartTaskCommand({ cluster: 'drain', taskDefinition: 'web', containerInstances: [d1.id] }),
    );
    expect(started.tasks).toEqual([]);
    expect(started.failures?.[0]).toMatchObject({ arn: d1.arn, reason: 'DRAINING' });
  });

  it('back to ACTIVE: placements land there again', async () => {
    const out = await cp.ecs.send(
      new UpdateContainerInstancesStateCommand({
        cluster: 'drain',
        containerInstances: [d1.id],
        status: 'ACTIVE',
      }),
    );
    expect(out.containerInstances?.[0]?.status).toBe('ACTIVE');
    const pinned = await cp.ecs.send(
      new RunTaskCommand({
        cluster: 'drain',
        taskDefinition: 'web',
        placementConstraints: [{ type: 'memberOf', expression: 'attribute:bosun.hostname == d1' }],
      }),
    );
    expect(pinned.failures).toEqual([]);
    expect(pinned.tasks?.[0]?.containerInstanceArn).toBe(d1.arn);
  });

  it('bad input is refused and changes nothing', async () => {
    const eleven = Array.from({ length: 11 }, () => d1.id);
    for (const input of [
      { containerInstances: eleven, status: 'DRAINING' },
      { containerInstances: [], status: 'DRAINING' },
      { containerInstances: [d1.id], status: 'INACTIVE' },
      { containerInstances: [d1.id], status: 'draining' },
    ]) {
      await expect(
        cp.ecs.send(
          new UpdateContainerInstancesStateCommand({
            cluster: 'drain',
            ...input,
            status: input.status as 'DRAINING',
          }),
        ),
      ).rejects.toMatchObject({ name: 'InvalidParameterException' });
    }
    await expect(
      cp.ecs.send(
        new UpdateContainerInstancesStateCommand({
          cluster: 'nope',
          containerInstances: [d1.id],
          status: 'DRAINING',
        }),
      ),
    ).rejects.toMatchObject({ name: 'ClusterNotFoundException' });
    expect((await describe1('drain', d1))?.status).toBe('ACTIVE');
  });
});

describe('DeregisterContainerInstance', () => {
  let r: FakeAgent;
  let spare: FakeAgent;
  let running = '';
  let pending = '';

  beforeAll(async () => {
    await cluster('dereg');
    r = await agent('dereg', 'r');
    spare = await agent('dereg', 'spare');
    running = await startOn('dereg', r);
    await report(r, running, 'RUNNING');
    pending = await startOn('dereg', r, 'service:web');
    await report(r, pending, 'PENDING');
  });

  const clusterCounts = async () =>
    (await cp.ecs.send(new DescribeClustersCommand({ clusters: ['dereg'] }))).clusters?.[0];

  it('refuses an instance with tasks unless forced, and changes nothing', async () => {
    await expect(
      cp.ecs.send(new DeregisterContainerInstanceCommand({ cluster: 'dereg', containerInstance: r.id })),
    ).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: 'The specified container instance has tasks running. Use force to deregister.',
    });
    await expect(
      cp.ecs.send(
        new DeregisterContainerInstanceCommand({ cluster: 'dereg', containerInstance: ghost, force: true }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(
      cp.ecs.send(
        new DeregisterContainerInstanceCommand({
          cluster: 'dereg',
          containerInstance: spare.arn.replace('dereg', 'attrs'),
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
    expect(await describe1('dereg', r)).toMatchObject({
      status: 'ACTIVE',
      runningTasksCount: 1,
      pendingTasksCount: 1,
    });
    expect(await clusterCounts()).toMatchObject({
      registeredContainerInstancesCount: 2,
      runningTasksCount: 1,
      pendingTasksCount: 1,
    });
  });

  it('with force: INACTIVE, its tasks STOPPED, the agent cut off, the cluster counts drop', async () => {
    const poll = r.desired((await r.desired()).version, 10);
    const out = await cp.ecs.send(
      new DeregisterContainerInstanceCommand({ cluster: 'dereg', containerInstance: r.arn, force: true }),
    );
    expect(out.containerInstance).toMatchObject({
      containerInstanceArn: r.arn,
      status: 'INACTIVE',
      agentConnected: false,
      runningTasksCount: 0,
      pendingTasksCount: 0,
    });
    const memory = out.containerInstance?.remainingResources?.find((x) => x.name === 'MEMORY');
    expect(memory?.integerValue).toBe(2048);
    // The open long-poll was answered, and with nothing to run.
    expect((await poll).tasks).toEqual([]);

    for (const arn of [running, pending]) {
      const task = await describeTask('dereg', arn);
      expect(task).toMatchObject({
        desiredStatus: 'STOPPED',
        lastStatus: 'STOPPED',
        stopCode: 'UserInitiated',
        stoppedReason: 'Container instance deregistered',
      });
      expect(task?.stoppedAt).toBeInstanceOf(Date);
      expect(task?.containers?.[0]?.lastStatus).toBe('STOPPED');
    }
    expect(await clusterCounts()).toMatchObject({
      registeredContainerInstancesCount: 1,
      runningTasksCount: 0,
      pendingTasksCount: 0,
    });

    await expect(r.desired()).rejects.toThrow(/This container instance was deregistered/);
    await expect(r.report([])).rejects.toThrow(/This container instance was deregistered/);
    const beat = await heartbeat(r);
    expect(beat.status).toBe(403);
    expect(beat.body.message).toBe('This container instance was deregistered.');

    expect(await listIds({ cluster: 'dereg' })).toEqual([spare.id]);
    expect(await listIds({ cluster: 'dereg', filter: 'agentConnected == false' })).toEqual([]);
  });

  it('an INACTIVE instance is final: no state change, no attributes, no placement; deregister again is harmless', async () => {
    const update = await cp.ecs.send(
      new UpdateContainerInstancesStateCommand({
        cluster: 'dereg',
        containerInstances: [r.id],
        status: 'ACTIVE',
      }),
    );
    expect(update.containerInstances).toEqual([]);
    expect(update.failures).toEqual([{ arn: r.arn, reason: 'INACTIVE', detail: expect.any(String) }]);
    await expect(
      cp.ecs.send(new PutAttributesCommand({ cluster: 'dereg', attributes: [custom('x', 'y', r.id)] })),
    ).rejects.toMatchObject({ name: 'TargetNotFoundException' });
    const started = await cp.ecs.send(
      new StartTaskCommand({ cluster: 'dereg', taskDefinition: 'web', containerInstances: [r.id] }),
    );
    expect(started.tasks).toEqual([]);
    const again = await cp.ecs.send(
      new DeregisterContainerInstanceCommand({ cluster: 'dereg', containerInstance: r.id }),
    );
    expect(again.containerInstance?.status).toBe('INACTIVE');
  });

  it('an instance without tasks deregisters without force; then the cluster has no instances', async () => {
    const out = await cp.ecs.send(
      new DeregisterContainerInstanceCommand({ cluster: 'dereg', containerInstance: spare.id }),
    );
    expect(out.containerInstance?.status).toBe('INACTIVE');
    await expect(
      cp.ecs.send(new RunTaskCommand({ cluster: 'dereg', taskDefinition: 'web' })),
    ).rejects.toMatchObject({ name: 'InvalidParameterException' });
    expect(await clusterCounts()).toMatchObject({ registeredContainerInstancesCount: 0 });
  });
});
