import { CreateClusterCommand, RegisterTaskDefinitionCommand, RunTaskCommand } from '@aws-sdk/client-ecs';
import { startControlPlane, type TestControlPlane } from '@bosun/testkit/control-plane-in-process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TASK_PATCH_COLUMNS, type TaskPatch } from '../src/agent-protocol/reports.ts';
import { writeTaskPatch } from '../src/agent-protocol/statements.ts';
import { readTasksById, type TaskRow } from '../src/repositories/tasks.ts';
import { registerAgent } from './fake-agent.ts';

/**
 * A grouped statement (src/db/group-statement.ts) is one SQL statement for many callers: one member
 * carrying a value Postgres refuses fails the statement. Its members then run alone, so only that
 * one caller fails and the others' writes commit — here with the grouped task-report write.
 */
let cp: TestControlPlane;
let taskIds: string[] = [];

beforeAll(async () => {
  cp = await startControlPlane();
  await cp.ecs.send(new CreateClusterCommand({ clusterName: 'bad-member' }));
  await cp.ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'bad-member',
      containerDefinitions: [{ name: 'app', image: 'busybox', memory: 16, cpu: 8 }],
    }),
  );
  const agent = await registerAgent(cp, { cluster: 'bad-member' });
  const run = await cp.ecs.send(
    new RunTaskCommand({ cluster: 'bad-member', taskDefinition: 'bad-member', count: 5 }),
  );
  taskIds = (run.tasks ?? []).map((t) => t.taskArn?.split('/').at(-1) ?? '');
  expect(taskIds).toHaveLength(5);
  expect(agent.id).toBeTruthy();
});
afterAll(async () => {
  await cp?.close();
});

const patchOf = (row: TaskRow, startedAt: Date): TaskPatch => {
  const patch = Object.fromEntries(TASK_PATCH_COLUMNS.map((key) => [key, row[key]])) as TaskPatch;
  return { ...patch, lastStatus: 'RUNNING', startedAt };
};

describe('a grouped statement with one bad member', () => {
  it('writes the other members and rejects only the bad one', async () => {
    const rows = await readTasksById(cp.database.db, taskIds);
    const now = new Date();
    const good = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
    // JSON writes it as "+010000-01-01T00:00:00.000Z", which Postgres refuses (as an agent's
    // timestamp past year 9999 was, before reports were bounded at parse).
    const bad = new Date(Date.UTC(10_000, 0, 1));
    const writes = rows.map((row, i) => ({ row, patch: patchOf(row, i === 2 ? bad : good), now }));
    // The first runs alone at once; the four made while it is in flight go as one group.
    const settled = await Promise.allSettled(writes.map((w) => writeTaskPatch(cp.database.db, w)));
    expect(settled.map((s) => s.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect(String((settled[2] as PromiseRejectedResult).reason)).toMatch(/Failed query/);

    const stored = await cp.database.sql<{ id: string; last_status: string; started_ms: number | null }[]>`
      select id, last_status, (extract(epoch from started_at) * 1000)::float8 as started_ms
      from tasks where id = any(${taskIds})`;
    const byId = new Map(stored.map((r) => [r.id, r]));
    rows.forEach((row, i) => {
      const r = byId.get(row.id);
      if (i === 2) expect(r).toMatchObject({ last_status: 'PROVISIONING', started_ms: null });
      else expect(r).toMatchObject({ last_status: 'RUNNING', started_ms: good.getTime() });
    });
  });
});
