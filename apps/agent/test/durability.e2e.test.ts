import { setTimeout as sleep } from 'node:timers/promises';
import { docker, type Stack, startStack } from '@bosun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The agent's promises when things go away: tasks keep running while the control plane is down,
 * what happened meanwhile is reported once it is back, and stopped containers are cleaned up after
 * the configured delay while the task stays visible.
 */
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ agentEnv: { BOSUN_TASK_CLEANUP_DELAY_SECONDS: '2' } });
  await stack.registerBusybox('sleeper');
  await stack.registerBusybox('short', ['sh', '-c', 'sleep 1; exit 3']);
}, 120_000);

afterAll(async () => {
  await stack?.close();
}, 120_000);

describe('the agent without its control plane', () => {
  it('keeps tasks running while the control plane is down and reports what happened once it is back', async () => {
    const keep = await stack.runTask('sleeper');
    const dies = await stack.runTask('sleeper');
    await stack.waitForTask(keep, (t) => t.lastStatus === 'RUNNING');
    const dying = await stack.waitForTask(dies, (t) => t.lastStatus === 'RUNNING');
    const keepId = (await stack.describeTask(keep)).containers[0]?.runtimeId ?? '';
    const startedAt = await docker('inspect', '-f', '{{.State.StartedAt}}', keepId);

    const startServer = await stack.stopServer('SIGKILL');
    // While it is gone, one task's essential container is killed on the host.
    await docker('kill', dying.containers[0]?.runtimeId ?? '');
    await sleep(3000);
    expect(await docker('inspect', '-f', '{{.State.Running}} {{.State.StartedAt}}', keepId)).toBe(
      `true ${startedAt}`,
    );
    await startServer();

    const stopped = await stack.waitForTask(dies, (t) => t.lastStatus === 'STOPPED', 30_000);
    expect(stopped).toMatchObject({
      stopCode: 'EssentialContainerExited',
      stoppedReason: 'Essential container in task exited',
    });
    expect(stopped.containers[0]?.exitCode).toBe(137);
    expect((await stack.describeTask(keep)).lastStatus).toBe('RUNNING');
    await stack.aws('stop-task', '--task', keep);
    await stack.waitForTask(keep, (t) => t.lastStatus === 'STOPPED', 30_000);
  }, 120_000);

  it('with BOSUN_STOP_TASKS_AFTER_DISCONNECT_SECONDS set, stops its tasks after that long alone', async () => {
    await stack.restartAgent('SIGTERM', { BOSUN_STOP_TASKS_AFTER_DISCONNECT_SECONDS: '3' });
    const arn = await stack.runTask('sleeper');
    const task = await stack.waitForTask(arn, (t) => t.lastStatus === 'RUNNING');
    const id = task.containers[0]?.runtimeId ?? '';
    const startServer = await stack.stopServer();
    const deadline = Date.now() + 20_000;
    let running = 'true';
    while (running === 'true' && Date.now() < deadline) {
      await sleep(500);
      running = await docker('inspect', '-f', '{{.State.Running}}', id);
    }
    expect(running).toBe('false');
    await startServer();
    const stopped = await stack.waitForTask(arn, (t) => t.lastStatus === 'STOPPED', 30_000);
    expect(stopped.stoppedReason ?? '').toMatch(/lost contact with the control plane/);
    await stack.restartAgent('SIGTERM');
  }, 90_000);

  it('removes a stopped task’s containers after the cleanup delay; the task stays visible', async () => {
    const arn = await stack.runTask('short');
    const task = await stack.waitForTask(arn, (t) => t.lastStatus === 'STOPPED', 30_000);
    expect(task).toMatchObject({ stopCode: 'EssentialContainerExited' });
    expect(task.containers[0]?.exitCode).toBe(3);
    const taskId = arn.split('/').pop() ?? '';
    const deadline = Date.now() + 20_000;
    let left = 'x';
    while (Date.now() < deadline && left !== '') {
      left = await docker('ps', '-aq', '--filter', `label=bosun.task-id=${taskId}`);
      await sleep(500);
    }
    expect(left).toBe('');
    expect((await stack.describeTask(arn)).lastStatus).toBe('STOPPED');
  }, 60_000);
});
