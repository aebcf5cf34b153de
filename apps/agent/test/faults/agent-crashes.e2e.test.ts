import { setTimeout as sleep } from 'node:timers/promises';
import { docker, type Stack, startStack } from '@bosun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureTasks, recordFigures, seconds } from './figures.ts';

/**
 * Fault scenarios 2 and 3: the agent dies hard, again and again, or at the worst moment (after
 * Docker created a container, before the agent recorded it). Nothing may restart or duplicate.
 */
let stack: Stack;

/** Every container Docker has for a task: id and start time, from Docker's own record. */
async function containersOf(taskArn: string): Promise<string[]> {
  const taskId = taskArn.split('/').pop() ?? '';
  const ids = (await docker('ps', '-aq', '--no-trunc', '--filter', `label=bosun.task-id=${taskId}`))
    .split('\n')
    .filter(Boolean);
  return Promise.all(
    ids.map((id) => docker('inspect', '-f', '{{.Id}} {{.State.StartedAt}} {{.RestartCount}}', id)),
  );
}

beforeAll(async () => {
  stack = await startStack();
  await stack.registerBusybox('steady');
}, 120_000);

afterAll(async () => {
  await stack?.close();
}, 120_000);

describe('fault suite: agent crashes', () => {
  it('2. kill -9 the agent ten times in a row while tasks run: no container restarts, no duplicates', async () => {
    const arns = [
      await stack.runTask('steady'),
      await stack.runTask('steady'),
      await stack.runTask('steady'),
    ];
    for (const arn of arns) await stack.waitForTask(arn, (t) => t.lastStatus === 'RUNNING');
    const before = await Promise.all(arns.map(containersOf));
    const started = Date.now();
    for (let i = 0; i < 10; i++) {
      await stack.restartAgent('SIGKILL');
      // Let it reconcile at least once (relist interval 1 s) before the next kill.
      await sleep(1200);
    }
    const after = await Promise.all(arns.map(containersOf));
    const duplicates = after.reduce((n, list) => n + Math.max(0, list.length - 1), 0);
    const restarts = after.flat().filter((line) => !before.flat().includes(line)).length;
    recordFigures({
      scenario: '2. agent kill -9 ×10',
      restarts,
      duplicates,
      lost: (await measureTasks(stack.aws, ['--family', 'steady'])).lost,
      recoverySeconds: seconds(Date.now() - started),
    });
    expect(after).toEqual(before);
    for (const arn of arns) expect((await stack.describeTask(arn)).lastStatus).toBe('RUNNING');
    for (const arn of arns) await stack.aws('stop-task', '--task', arn);
  }, 120_000);

  it('3. the agent crashes between creating a container and recording it: adopted, not duplicated', async () => {
    await stack.restartAgent('SIGTERM', { BOSUN_AGENT_CRASH_AFTER_CREATE: '1' });
    const arn = await stack.runTask('steady');
    // The agent creates the container, then kills itself before recording its id or starting it.
    const deadline = Date.now() + 30_000;
    while (
      stack.agent.child.exitCode === null &&
      stack.agent.child.signalCode === null &&
      Date.now() < deadline
    ) {
      await sleep(100);
    }
    expect(stack.agent.child.signalCode).toBe('SIGKILL');
    const created = await containersOf(arn);
    expect(created).toHaveLength(1);
    const started = Date.now();
    await stack.restartAgent('SIGKILL');
    const task = await stack.waitForTask(arn, (t) => t.lastStatus === 'RUNNING', 30_000);
    const after = await containersOf(arn);
    recordFigures({
      scenario: '3. crash between create and record',
      duplicates: after.length - 1,
      lost: (await measureTasks(stack.aws, ['--family', 'steady'])).lost,
      recoverySeconds: seconds(Date.now() - started),
    });
    expect(after).toHaveLength(1);
    expect(after[0]?.split(' ')[0]).toBe(created[0]?.split(' ')[0]);
    expect(task.containers[0]?.runtimeId).toBe(created[0]?.split(' ')[0]);
    await stack.aws('stop-task', '--task', arn);
  }, 90_000);
});
