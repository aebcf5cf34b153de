import { CreateClusterCommand, RegisterTaskDefinitionCommand, RunTaskCommand } from '@aws-sdk/client-ecs';
import { MAX_EPOCH_MS, REPORT_LIMITS } from '@bosun/model';
import { startControlPlane, type TestControlPlane } from '@bosun/testkit/control-plane-in-process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeAgent, registerAgent } from './fake-agent.ts';

/**
 * One agent's bad report leaves the other agents' reports applied (issue 17): the control plane
 * validates each task report on its own (agent-protocol/routes.ts validateReports), refuses the bad
 * one by name and applies the rest. Here two agents report at the same moment — their task writes
 * made into one grouped statement (agent-protocol/statements.ts) by a third agent's write held in
 * flight behind a row lock — and one of them sends a timestamp past year 9999, a negative one and a
 * reason past REPORT_LIMITS. Before per-report validation, the timestamp failed the shared statement
 * (the good agent got a 500) and the long reason refused the bad agent's whole batch (400).
 */
let cp: TestControlPlane;
let good: FakeAgent;
let bad: FakeAgent;
let holder: FakeAgent;
const tasksOf = new Map<string, string[]>();

beforeAll(async () => {
  cp = await startControlPlane();
  await cp.ecs.send(new CreateClusterCommand({ clusterName: 'bad-reports' }));
  await cp.ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'bad-reports',
      containerDefinitions: [{ name: 'app', image: 'busybox', memory: 16, cpu: 8 }],
    }),
  );
  [good, bad, holder] = (await Promise.all(
    ['good', 'bad', 'holder'].map((hostname) => registerAgent(cp, { cluster: 'bad-reports', hostname })),
  )) as [FakeAgent, FakeAgent, FakeAgent];
  for (let i = 0; i < 2; i++) {
    await cp.ecs.send(
      new RunTaskCommand({
        cluster: 'bad-reports',
        taskDefinition: 'bad-reports',
        count: 9,
        placementStrategy: [{ type: 'spread', field: 'instanceId' }],
      }),
    );
  }
  for (const agent of [good, bad, holder]) {
    const rows = await cp.database.sql<{ id: string }[]>`
      select id from tasks where container_instance_id = ${agent.id} order by id`;
    tasksOf.set(
      agent.id,
      rows.map((r) => r.id),
    );
  }
});
afterAll(async () => {
  await cp?.close();
});

const running = (taskId: string, startedAt: number, reason?: string) => ({
  taskId,
  lastStatus: 'RUNNING' as const,
  startedAt,
  containers: [
    {
      name: 'app',
      lastStatus: 'RUNNING' as const,
      runtimeId: `c-${taskId.slice(0, 8)}`,
      ...(reason ? { reason } : {}),
    },
  ],
});

/**
 * The good and the bad agent's reports at the same moment, their task writes in one group: the
 * holder's write of `heldTask` is in flight (waiting for a row lock the test holds) while theirs
 * queue behind it; the lock is let go once they wait.
 */
async function reportTogether(heldTask: string, goodReports: unknown[], badReports: unknown[]) {
  let answers: PromiseSettledResult<Awaited<ReturnType<FakeAgent['report']>>>[] = [];
  await cp.database.sql.begin(async (tx) => {
    await tx`select id from tasks where id = ${heldTask} for update`;
    const held = holder.report([running(heldTask, Date.now())]);
    await new Promise((r) => setTimeout(r, 200));
    const both = Promise.allSettled([good.report(goodReports), bad.report(badReports)]);
    await new Promise((r) => setTimeout(r, 300));
    // Still waiting for the held write: their writes are queued together behind it.
    void Promise.all([held, both]).then(([, settled]) => {
      answers = settled;
    });
  });
  // The transaction ended: the holder's write goes, then the group of the other two.
  for (let i = 0; i < 100 && answers.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  return answers;
}

type Row = { id: string; last_status: string; started_ms: number | null; runtime_id: string | null };
async function rowsOf(ids: string[]): Promise<Map<string, Row>> {
  const rows = await cp.database.sql<Row[]>`
    select id, last_status, (extract(epoch from started_at) * 1000)::float8 as started_ms,
           containers->0->>'runtimeId' as runtime_id
    from tasks where id = any(${ids})`;
  return new Map(rows.map((r) => [r.id, r]));
}

describe('reports refused one by one', () => {
  it("applies the other agent's reports and the bad agent's good one when one carries a timestamp past year 9999", async () => {
    const [g1 = '', g2 = ''] = tasksOf.get(good.id) ?? [];
    const [b1 = '', b2 = ''] = tasksOf.get(bad.id) ?? [];
    const [h1 = ''] = tasksOf.get(holder.id) ?? [];
    const now = Date.now();
    const answers = await reportTogether(
      h1,
      [running(g1, now), running(g2, now)],
      [running(b1, now), running(b2, MAX_EPOCH_MS + 1)],
    );
    // Nothing 5xx: both answered.
    expect(answers.map((a) => a.status)).toEqual(['fulfilled', 'fulfilled']);
    const [goodAnswer, badAnswer] = answers.map((a) => (a.status === 'fulfilled' ? a.value : undefined));
    expect(goodAnswer).toMatchObject({ refused: [], unknownTaskIds: [] });
    expect(badAnswer?.refused).toEqual([
      { index: 1, taskId: b2, reason: expect.stringMatching(/startedAt/) },
    ]);

    const rows = await rowsOf([g1, g2, b1, b2]);
    for (const id of [g1, g2, b1]) {
      expect(rows.get(id)).toMatchObject({
        last_status: 'RUNNING',
        started_ms: now,
        runtime_id: `c-${id.slice(0, 8)}`,
      });
    }
    expect(rows.get(b2)).toMatchObject({ last_status: 'PROVISIONING', started_ms: null, runtime_id: null });
  });

  it('refuses a report with a negative timestamp and one with an over-long reason, and applies the rest', async () => {
    const [, , g3 = '', g4 = ''] = tasksOf.get(good.id) ?? [];
    const [, , b3 = '', b4 = '', b5 = ''] = tasksOf.get(bad.id) ?? [];
    const [, h2 = ''] = tasksOf.get(holder.id) ?? [];
    const now = Date.now();
    const answers = await reportTogether(
      h2,
      [running(g3, now), running(g4, now)],
      [
        { ...running(b3, now), pullStartedAt: -5 },
        running(b4, now, 'x'.repeat(REPORT_LIMITS.reason + 1)),
        running(b5, now),
      ],
    );
    expect(answers.map((a) => a.status)).toEqual(['fulfilled', 'fulfilled']);
    const [goodAnswer, badAnswer] = answers.map((a) => (a.status === 'fulfilled' ? a.value : undefined));
    expect(goodAnswer).toMatchObject({ refused: [] });
    expect(badAnswer?.refused).toEqual([
      { index: 0, taskId: b3, reason: expect.stringMatching(/pullStartedAt/) },
      { index: 1, taskId: b4, reason: expect.stringMatching(/containers\.0\.reason/) },
    ]);

    const rows = await rowsOf([g3, g4, b3, b4, b5]);
    for (const id of [g3, g4, b5])
      expect(rows.get(id)).toMatchObject({ last_status: 'RUNNING', started_ms: now });
    for (const id of [b3, b4])
      expect(rows.get(id)).toMatchObject({ last_status: 'PROVISIONING', started_ms: null });
  });
});
