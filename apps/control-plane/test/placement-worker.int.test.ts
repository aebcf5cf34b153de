import {
  CreateClusterCommand,
  DescribeTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  type RunTaskCommandOutput,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import { ACCOUNT, REGION } from '@bosun/testkit';
import { startControlPlane, type TestControlPlane } from '@bosun/testkit/control-plane-in-process';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { housekeeping } from '../src/workers/housekeeping.ts';
import { placePendingRequests } from '../src/workers/placement.ts';
import { registerAgent } from './fake-agent.ts';

/** Two control-plane processes of one install: same database, same Redis queues, own workers. */
let cp: TestControlPlane;
let cp2: TestControlPlane;
beforeAll(async () => {
  cp = await startControlPlane();
  cp2 = await startControlPlane({ shareWith: cp });
});
afterAll(async () => {
  await cp2?.close();
  await cp?.close();
});

const deps = (plane: TestControlPlane) => ({
  db: plane.database.db,
  scope: { region: REGION, accountId: ACCOUNT },
  settings: plane.settings,
  notifier: plane.runtime.notifier,
  clock: () => new Date(),
  health: plane.health,
  log: pino({ level: 'silent' }),
});

describe('placement under concurrency', () => {
  it('20 concurrent RunTasks through two control planes never over-commit an instance', async () => {
    await cp.ecs.send(new CreateClusterCommand({ clusterName: 'race' }));
    const agents = [
      await registerAgent(cp, { cluster: 'race', memory: 1000 }),
      await registerAgent(cp2, { cluster: 'race', memory: 1000 }),
    ];
    await cp.ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'racer',
        containerDefinitions: [{ name: 'app', image: 'busybox', memory: 128 }],
      }),
    );
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? cp : cp2).ecs.send(
          // binpack makes every call want the same host first: the worst case for double-booking.
          new RunTaskCommand({
            cluster: 'race',
            taskDefinition: 'racer',
            placementStrategy: [{ type: 'binpack', field: 'memory' }],
          }),
        ),
      ),
    );
    const placed = results.flatMap((r: RunTaskCommandOutput) => r.tasks ?? []);
    const failures = results.flatMap((r: RunTaskCommandOutput) => r.failures ?? []);
    const conflicts = await cp.database.sql<
      { n: number }[]
    >`select sum(conflicts)::int as n from placement_requests`;
    console.log(
      `20 RunTasks in ${(performance.now() - started).toFixed(0)} ms: ${placed.length} placed, ` +
        `${results.filter((r) => (r.tasks ?? []).length === 0).length} refused, ${conflicts[0]?.n ?? 0} re-plans after a conflict under lock`,
    );
    // 1000 MiB / 128 MiB = 7 per host.
    expect(placed).toHaveLength(14);
    expect(new Set(failures.map((f) => f.reason))).toEqual(new Set(['RESOURCE:MEMORY']));

    const rows = await cp.database.sql<{ id: string; registered: number; reserved: number; n: number }[]>`
      select ci.id, ci.registered_memory as registered,
             coalesce(sum(t.reserved_memory), 0)::int as reserved, count(t.id)::int as n
        from container_instances ci
        left join tasks t on t.container_instance_id = ci.id and t.last_status <> 'STOPPED'
       where ci.id in ${cp.database.sql(agents.map((a) => a.id))}
       group by ci.id`;
    for (const row of rows) {
      expect(row.reserved).toBeLessThanOrEqual(row.registered);
      expect(row.n).toBe(7);
    }
    // Every agent saw all of its tasks.
    for (const agent of agents) expect((await agent.desired()).tasks).toHaveLength(7);
  });

  it('runs a placement job twice without placing twice', async () => {
    await cp.ecs.send(new CreateClusterCommand({ clusterName: 'twice' }));
    await registerAgent(cp, { cluster: 'twice' });
    await cp.ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'twice',
        containerDefinitions: [{ name: 'app', image: 'busybox', memory: 64 }],
      }),
    );
    const run = await cp.ecs.send(
      new RunTaskCommand({ cluster: 'twice', taskDefinition: 'twice', count: 2 }),
    );
    expect(run.tasks).toHaveLength(2);
    const [request] = await cp.database.sql<{ id: string; clusterId: string }[]>`
      select placement_request_id as id, cluster_id as "clusterId" from tasks
       where id = ${run.tasks?.[0]?.taskArn?.split('/').pop() ?? ''}`;
    await placePendingRequests(deps(cp), request?.clusterId ?? '');
    await placePendingRequests(deps(cp2), request?.clusterId ?? '');
    const [n] = await cp.database.sql<{ n: number }[]>`
      select count(*)::int as n from tasks where placement_request_id = ${request?.id ?? ''}`;
    expect(n?.n).toBe(2);
  });
});

describe('when no worker answers in time', () => {
  let idle: TestControlPlane;
  beforeAll(async () => {
    // An install of its own (own database and queue prefix) whose only process runs no workers.
    idle = await startControlPlane({ settings: { placementWaitMs: 300 }, workers: false });
  });
  afterAll(async () => {
    await idle?.close();
  });

  it('RunTask fails with ServerException, starts nothing later, and a retry with the clientToken places', async () => {
    await idle.ecs.send(new CreateClusterCommand({ clusterName: 'slow' }));
    await registerAgent(idle, { cluster: 'slow' });
    await idle.ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'slow',
        containerDefinitions: [{ name: 'app', image: 'busybox', memory: 64 }],
      }),
    );
    const input = { cluster: 'slow', taskDefinition: 'slow', clientToken: 'slow-1' };
    await expect(idle.ecs.send(new RunTaskCommand(input))).rejects.toMatchObject({ name: 'ServerException' });
    const [request] = await idle.database.sql<{ status: string; clusterId: string }[]>`
      select status, cluster_id as "clusterId" from placement_requests where client_token = 'slow-1'`;
    expect(request?.status).toBe('CANCELLED');
    // The job is still queued; a worker that runs it now must not start anything.
    await placePendingRequests(deps(idle), request?.clusterId ?? '');
    const [none] = await idle.database.sql<{ n: number }[]>`select count(*)::int as n from tasks`;
    expect(none?.n).toBe(0);

    // A process with workers joins the install; the retry re-opens the request and places it.
    const worker = await startControlPlane({ shareWith: idle });
    try {
      const retry = await worker.ecs.send(new RunTaskCommand(input));
      expect(retry.tasks).toHaveLength(1);
      const again = await idle.ecs.send(new RunTaskCommand(input));
      expect(again.tasks?.map((t) => t.taskArn)).toEqual(retry.tasks?.map((t) => t.taskArn));
    } finally {
      await worker.close();
    }
  });
});

describe('housekeeping', () => {
  it('forgets STOPPED tasks past the retention, keeps recent ones', async () => {
    await cp.ecs.send(new CreateClusterCommand({ clusterName: 'old' }));
    const agent = await registerAgent(cp, { cluster: 'old' });
    await cp.ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'old',
        containerDefinitions: [{ name: 'app', image: 'busybox', memory: 64 }],
      }),
    );
    const run = await cp.ecs.send(
      new RunTaskCommand({
        cluster: 'old',
        taskDefinition: 'old',
        count: 2,
        tags: [{ key: 'k', value: 'v' }],
      }),
    );
    const [oldId, newId] = (run.tasks ?? []).map((t) => t.taskArn?.split('/').pop() ?? '');
    for (const id of [oldId, newId]) {
      await cp.ecs.send(new StopTaskCommand({ cluster: 'old', task: id }));
      await agent.report([{ taskId: id ?? '', lastStatus: 'STOPPED', containers: [] }]);
    }
    await cp.database.sql`update tasks set stopped_at = now() - interval '2 hours' where id = ${oldId ?? ''}`;
    const done = await housekeeping(deps(cp));
    expect(done.removed.stoppedTasks).toBe(1);
    const out = await cp.ecs.send(
      new DescribeTasksCommand({ cluster: 'old', tasks: [oldId ?? '', newId ?? ''] }),
    );
    expect(out.tasks?.map((t) => t.taskArn?.split('/').pop())).toEqual([newId]);
    expect(out.tasks?.[0]?.stoppedReason).toBe('Task stopped by user');
    expect(out.failures?.[0]?.reason).toBe('MISSING');
    const [tags] = await cp.database.sql<{ n: number }[]>`
      select count(*)::int as n from tags where resource_arn like ${`%${oldId}`}`;
    expect(tags?.n).toBe(0);
  });
});
