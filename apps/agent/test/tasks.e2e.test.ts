import { setTimeout as sleep } from 'node:timers/promises';
import { docker, type Stack, startStack } from '@bosun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Issue 3 as a new user tries it: a real control plane and a real agent as processes, the real
 * `aws` CLI, real Docker, the examples from examples/.
 */
let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
  await stack.aws('register-task-definition', '--cli-input-json', 'file://examples/web-server.json');
  await stack.aws('register-task-definition', '--cli-input-json', 'file://examples/two-containers.json');
}, 120_000);

afterAll(async () => {
  await stack?.close();
}, 120_000);

describe('tasks on real Docker through the aws CLI', () => {
  let webArn = '';

  it('runs the web example and serves it on its dynamic host port on 127.0.0.1', async () => {
    webArn = await stack.runTask('web');
    const task = await stack.waitForTask(webArn, (t) => t.lastStatus === 'RUNNING');
    const binding = task.containers[0]?.networkBindings?.[0];
    expect(binding).toMatchObject({ containerPort: 8080, bindIP: '127.0.0.1' });
    expect(binding?.hostPort).toBeGreaterThan(0);
    const res = await fetch(`http://127.0.0.1:${binding?.hostPort}/`);
    expect(await res.text()).toContain('hello from bosun');
    // The health check runs inside the container and turns HEALTHY.
    const healthy = await stack.waitForTask(
      webArn,
      (t) => t.containers[0]?.healthStatus === 'HEALTHY',
      40_000,
    );
    expect(healthy.containers[0]?.healthStatus).toBe('HEALTHY');
  }, 90_000);

  it('runs the two-container example in dependsOn order and handles SIGTERM on stop', async () => {
    const arn = await stack.runTask('app-with-migrations');
    const task = await stack.waitForTask(arn, (t) => t.lastStatus === 'RUNNING');
    const migrate = task.containers.find((c) => c.name === 'migrate');
    const app = task.containers.find((c) => c.name === 'app');
    expect(migrate).toMatchObject({ lastStatus: 'STOPPED', exitCode: 0 });
    expect(app?.lastStatus).toBe('RUNNING');
    // app started only after migrate wrote its file: its first log line shows the time migrate wrote.
    expect(await docker('logs', app?.runtimeId ?? '')).toMatch(/started after migration at \S+/);

    await stack.aws('stop-task', '--task', arn, '--reason', 'e2e says stop');
    const stopped = await stack.waitForTask(arn, (t) => t.lastStatus === 'STOPPED', 30_000);
    expect(stopped).toMatchObject({
      desiredStatus: 'STOPPED',
      stopCode: 'UserInitiated',
      stoppedReason: 'e2e says stop',
    });
    expect(stopped.containers.find((c) => c.name === 'app')).toMatchObject({
      lastStatus: 'STOPPED',
      exitCode: 0,
    });
    expect(await docker('logs', app?.runtimeId ?? '')).toContain('got SIGTERM');
  }, 90_000);

  it('refuses a task too big for any host with a clear failure', async () => {
    await stack.aws(
      'register-task-definition',
      '--family',
      'huge',
      '--container-definitions',
      JSON.stringify([
        { name: 'a', image: 'bosun/busybox:latest', memory: 1_000_000, command: ['sleep', '1'] },
      ]),
    );
    const out = (await stack.aws('run-task', '--task-definition', 'huge')) as {
      tasks: unknown[];
      failures: { reason: string; detail?: string }[];
    };
    expect(out.tasks).toEqual([]);
    expect(out.failures[0]?.reason).toBe('RESOURCE:MEMORY');
    expect(out.failures[0]?.detail ?? '').toMatch(/memory/i);
  });

  it('ends a task whose image does not exist as STOPPED with TaskFailedToStart and the Docker error', async () => {
    await stack.aws(
      'register-task-definition',
      '--family',
      'no-image',
      '--container-definitions',
      JSON.stringify([{ name: 'a', image: 'bosun/does-not-exist:1', memory: 16 }]),
    );
    const arn = await stack.runTask('no-image');
    const task = await stack.waitForTask(arn, (t) => t.lastStatus === 'STOPPED', 90_000);
    expect(task.stopCode).toBe('TaskFailedToStart');
    expect(task.containers[0]?.reason ?? '').toMatch(/^CannotPullContainerError/);
  }, 120_000);

  it('adopts its containers after kill -9: same container, not restarted, no duplicate', async () => {
    const before = await stack.describeTask(webArn);
    const id = before.containers[0]?.runtimeId ?? '';
    const startedAt = await docker('inspect', '-f', '{{.State.StartedAt}}', id);
    await stack.restartAgent('SIGKILL');
    // Give the restarted agent a few reconcile rounds to act, if it were going to.
    await sleep(4000);
    expect(await docker('inspect', '-f', '{{.State.StartedAt}} {{.State.Running}}', id)).toBe(
      `${startedAt} true`,
    );
    const all = await docker('ps', '-aq', '--filter', `label=bosun.task-id=${webArn.split('/').pop()}`);
    expect(all.split('\n').filter(Boolean)).toHaveLength(1);
    const after = await stack.describeTask(webArn);
    expect(after.lastStatus).toBe('RUNNING');
    expect(after.containers[0]?.runtimeId).toBe(id);
    // And it still acts on the task: stop it through the API.
    await stack.aws('stop-task', '--task', webArn);
    await stack.waitForTask(webArn, (t) => t.lastStatus === 'STOPPED', 30_000);
  }, 90_000);

  it('keeps tasks that start while a slow container scan is in flight (a stale list is not a vanished container)', async () => {
    // Each full scan holds its list 500 ms, as one slowed by load does: tasks create and start their
    // containers meanwhile, and that list, which does not show them, must not stop them.
    await stack.restartAgent('SIGTERM', { BOSUN_AGENT_TEST_SCAN_DELAY_MS: '500' });
    await stack.registerBusybox('slow-scan');
    const out = (await stack.aws('run-task', '--task-definition', 'slow-scan', '--count', '4')) as {
      tasks: { taskArn: string }[];
    };
    const arns = out.tasks.map((t) => t.taskArn);
    expect(arns).toHaveLength(4);
    for (const arn of arns) await stack.waitForTask(arn, (t) => t.lastStatus === 'RUNNING');
    await sleep(3000);
    for (const arn of arns) {
      const task = await stack.describeTask(arn);
      expect([task.lastStatus, task.stopCode, task.stoppedReason]).toEqual(['RUNNING', undefined, undefined]);
    }
    for (const arn of arns) await stack.aws('stop-task', '--task', arn);
    await stack.restartAgent('SIGTERM');
  }, 90_000);
});
