import { CreateClusterCommand, RegisterTaskDefinitionCommand, RunTaskCommand } from '@aws-sdk/client-ecs';
import { startControlPlane, type TestControlPlane } from '@bosun/testkit/control-plane-in-process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeAgent, registerAgent } from './fake-agent.ts';

/**
 * The agent protocol's statements are grouped across agents (src/agent-protocol/statements.ts): requests that
 * arrive together share one statement. These bursts make groups of many agents and check that each
 * agent still gets its own answer, and that one bad member does not spoil its group.
 */
let cp: TestControlPlane;
let agents: FakeAgent[] = [];
const placed = new Map<string, string[]>();

const tasksOf = async (instanceId: string) =>
  (
    await cp.database.sql<{ id: string }[]>`
      select id from tasks where container_instance_id = ${instanceId} order by created_at, id`
  ).map((r) => r.id);

beforeAll(async () => {
  cp = await startControlPlane();
  await cp.ecs.send(new CreateClusterCommand({ clusterName: 'groups' }));
  await cp.ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'grouped',
      containerDefinitions: [{ name: 'app', image: 'busybox', memory: 16, cpu: 8 }],
    }),
  );
  agents = await Promise.all(
    Array.from({ length: 8 }, (_, i) => registerAgent(cp, { cluster: 'groups', hostname: `g${i}` })),
  );
  for (let i = 0; i < 3; i++) {
    await cp.ecs.send(
      new RunTaskCommand({
        cluster: 'groups',
        taskDefinition: 'grouped',
        count: 10,
        placementStrategy: [{ type: 'spread', field: 'instanceId' }],
      }),
    );
  }
  for (const agent of agents) placed.set(agent.id, await tasksOf(agent.id));
});
afterAll(async () => {
  await cp?.close();
});

describe('grouped agent statements', () => {
  it('answers every agent of a burst of long-polls with its own tasks, in placement order', async () => {
    expect([...placed.values()].flat()).toHaveLength(30);
    const answers = await Promise.all(agents.map((agent) => agent.desired()));
    for (const [i, agent] of agents.entries()) {
      expect(answers[i]?.tasks.map((t) => t.taskId)).toEqual(placed.get(agent.id));
      expect(answers[i]?.version).toBeGreaterThan(0);
    }
  });

  it('writes every report of a burst, refuses the one with a wrong credential, and lists tasks of other hosts as unknown', async () => {
    const [first, second] = agents as [FakeAgent, FakeAgent];
    // The host's own client certificate with a wrong credential: refused in the grouped statement.
    const impostor = new FakeAgent(
      first.endpoint,
      { ...first.registration, credential: `${first.id}.${'x'.repeat(43)}` },
      first.keyPem,
    );
    const strangerTask = placed.get(second.id)?.[0] ?? '';
    const now = Date.now();
    const results = await Promise.allSettled([
      impostor.report([{ taskId: placed.get(first.id)?.[0] ?? '', lastStatus: 'STOPPED', containers: [] }]),
      ...agents.map((agent) =>
        agent.report(
          (placed.get(agent.id) ?? []).map((taskId) => ({
            taskId,
            lastStatus: 'RUNNING' as const,
            startedAt: now,
            containers: [
              { name: 'app', lastStatus: 'RUNNING' as const, runtimeId: `c-${taskId.slice(0, 8)}` },
            ],
          })),
        ),
      ),
      first.report([{ taskId: strangerTask, lastStatus: 'STOPPED', containers: [] }]),
    ]);
    expect(results[0]?.status).toBe('rejected');
    expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/report: 40[13]/);
    for (const r of results.slice(1, -1))
      expect(r).toMatchObject({ status: 'fulfilled', value: { unknownTaskIds: [] } });
    expect(results.at(-1)).toMatchObject({ status: 'fulfilled', value: { unknownTaskIds: [strangerTask] } });

    const rows = await cp.database.sql<
      { id: string; last_status: string; version: number; started_ms: number; runtime_id: string }[]
    >`select id, last_status, version, (extract(epoch from started_at) * 1000)::float8 as started_ms, containers->0->>'runtimeId' as runtime_id from tasks`;
    expect(rows).toHaveLength(30);
    for (const row of rows) {
      // RUNNING once, and nothing else: the impostor's and the stranger's STOPPED were not written.
      expect(row).toMatchObject({
        last_status: 'RUNNING',
        version: 2,
        runtime_id: `c-${row.id.slice(0, 8)}`,
      });
      expect(row.started_ms).toBe(now);
    }
  });

  it('merges two reports of one task that arrive together, the second onto the first', async () => {
    const agent = agents[2] as FakeAgent;
    const [taskId = ''] = placed.get(agent.id) ?? [];
    const binding = { bindIP: '127.0.0.1', containerPort: 80, hostPort: 40080, protocol: 'tcp' as const };
    await Promise.all([
      agent.report([
        {
          taskId,
          lastStatus: 'RUNNING',
          containers: [{ name: 'app', lastStatus: 'RUNNING', networkBindings: [binding] }],
        },
      ]),
      agent.report([{ taskId, lastStatus: 'RUNNING', healthStatus: 'HEALTHY', containers: [] }]),
      // Twice in one report as well: in the order given.
      agent.report([
        { taskId, lastStatus: 'RUNNING', containers: [{ name: 'app', lastStatus: 'RUNNING', exitCode: 7 }] },
        {
          taskId,
          lastStatus: 'RUNNING',
          containers: [{ name: 'app', lastStatus: 'RUNNING', reason: 'still here' }],
        },
      ]),
    ]);
    const [row] = await cp.database.sql<
      { health_status: string; version: number; container: Record<string, unknown> }[]
    >`
      select health_status, version, containers->0 as container from tasks where id = ${taskId}`;
    expect(row?.health_status).toBe('HEALTHY');
    expect(row?.container).toMatchObject({ networkBindings: [binding], exitCode: 7, reason: 'still here' });
    // Four changes, each written once, none lost: 2 (RUNNING) + 4.
    expect(row?.version).toBe(6);
  });

  it('locks the task rows of a report in id order, as the stoppers do, so the two cannot deadlock', async () => {
    const agent = agents[3] as FakeAgent;
    const ids = [...(placed.get(agent.id) ?? [])].sort();
    const lowest = ids[0] ?? '';
    const highest = ids.at(-1) ?? '';
    expect(ids.length).toBeGreaterThan(2);
    let reported: Promise<unknown> = Promise.resolve();
    let done = false;
    let highestFree = false;
    await cp.database.sql.begin(async (tx) => {
      await tx`select id from tasks where id = ${lowest} for update`;
      reported = agent
        .report(
          ids.map((taskId) => ({
            taskId,
            lastStatus: 'RUNNING' as const,
            healthStatus: 'UNHEALTHY' as const,
            containers: [],
          })),
        )
        .finally(() => {
          done = true;
        });
      await new Promise((r) => setTimeout(r, 300));
      expect(done).toBe(false);
      // The report waits on the lowest id; had it locked rows in another order, it would hold some
      // of the others now.
      await cp.database.sql.begin(async (probe) => {
        const rows = await probe`select id from tasks where id = ${highest} for update skip locked`;
        highestFree = rows.length === 1;
      });
    });
    await reported;
    expect(highestFree).toBe(true);
    const rows = await cp.database.sql<{ n: number }[]>`
      select count(*)::int as n from tasks where id = any(${ids}) and health_status = 'UNHEALTHY'`;
    expect(rows[0]?.n).toBe(ids.length);
  });
});
