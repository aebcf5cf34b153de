import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScratchDatabase } from '../../control-plane/test/harness.ts';
import {
  REPO_ROOT,
  type ServerProcess,
  startServerProcess,
} from '../../control-plane/test/server-process.ts';
import { type AgentProcess, createJoinToken, startAgentProcess } from './agent-process.ts';

/**
 * Issue 3 as a new user tries it: a real control plane and a real agent as processes, the real
 * `aws` CLI, real Docker, the examples from examples/.
 */
const run = promisify(execFile);

let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
let server: ServerProcess;
let agent: AgentProcess;
let stateDir: string;
let agentDir: string;

interface Task {
  taskArn: string;
  lastStatus: string;
  desiredStatus: string;
  stopCode?: string;
  stoppedReason?: string;
  containers: {
    name: string;
    lastStatus: string;
    exitCode?: number;
    reason?: string;
    runtimeId?: string;
    healthStatus?: string;
    networkBindings?: { hostPort: number; containerPort: number; bindIP: string }[];
  }[];
}

async function aws(...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run('aws', ['ecs', ...args, '--output', 'json'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: stateDir, ...server.clientEnv },
  });
  return stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : {};
}

const docker = async (...args: string[]) => (await run('docker', args)).stdout.trim();

async function describeTask(arn: string): Promise<Task> {
  const out = (await aws('describe-tasks', '--tasks', arn)) as { tasks: Task[] };
  const task = out.tasks[0];
  if (!task) throw new Error(`task ${arn} not found`);
  return task;
}

async function waitForTask(arn: string, ok: (t: Task) => boolean, timeoutMs = 60_000): Promise<Task> {
  const deadline = Date.now() + timeoutMs;
  let last: Task | undefined;
  while (Date.now() < deadline) {
    last = await describeTask(arn);
    if (ok(last)) return last;
    await sleep(250);
  }
  throw new Error(
    `task did not reach the expected state; last seen:\n${JSON.stringify(last, null, 2)}\nagent:\n${agent.output().slice(-3000)}`,
  );
}

async function runTask(family: string): Promise<string> {
  const out = (await aws('run-task', '--task-definition', family)) as { tasks: Task[]; failures: unknown[] };
  expect(out.failures).toEqual([]);
  const arn = out.tasks[0]?.taskArn;
  if (!arn) throw new Error('no task');
  return arn;
}

const startAgent = () =>
  startAgentProcess({
    BOSUN_CONTROL_PLANE_URL: server.clientEnv.AWS_ENDPOINT_URL_ECS ?? '',
    BOSUN_AGENT_STATE_DIR: agentDir,
    BOSUN_TASK_CLEANUP_DELAY_SECONDS: '3600',
    BOSUN_RELIST_INTERVAL_SECONDS: '1',
  });

beforeAll(async () => {
  scratch = await createScratchDatabase();
  stateDir = mkdtempSync(join(tmpdir(), 'bosun-e2e-cp-'));
  agentDir = mkdtempSync(join(tmpdir(), 'bosun-e2e-agent-'));
  server = await startServerProcess({
    DATABASE_URL: scratch.url,
    REDIS_URL: process.env.REDIS_URL ?? '',
    BOSUN_STATE_DIR: stateDir,
  });
  const token = await createJoinToken(join(stateDir, 'env'));
  agent = await startAgentProcess({
    BOSUN_CONTROL_PLANE_URL: server.clientEnv.AWS_ENDPOINT_URL_ECS ?? '',
    BOSUN_AGENT_STATE_DIR: agentDir,
    BOSUN_JOIN_TOKEN: token,
    BOSUN_TASK_CLEANUP_DELAY_SECONDS: '3600',
    BOSUN_RELIST_INTERVAL_SECONDS: '1',
  });
  await aws('register-task-definition', '--cli-input-json', 'file://examples/web-server.json');
  await aws('register-task-definition', '--cli-input-json', 'file://examples/two-containers.json');
}, 120_000);

afterAll(async () => {
  // Stop every task this file started, then the processes, then remove what Docker still holds.
  const ids = (await docker('ps', '-aq', '--filter', 'label=bosun.managed=true').catch(() => ''))
    .split('\n')
    .filter(Boolean);
  await agent?.stop();
  await server?.stop();
  if (ids.length > 0) await docker('rm', '-f', '-v', ...ids).catch(() => '');
  await scratch?.drop();
}, 120_000);

describe('tasks on real Docker through the aws CLI', () => {
  let webArn = '';

  it('runs the web example and serves it on its dynamic host port on 127.0.0.1', async () => {
    webArn = await runTask('web');
    const task = await waitForTask(webArn, (t) => t.lastStatus === 'RUNNING');
    const web = task.containers[0];
    const binding = web?.networkBindings?.[0];
    expect(binding).toMatchObject({ containerPort: 8080, bindIP: '127.0.0.1' });
    expect(binding?.hostPort).toBeGreaterThan(0);
    const res = await fetch(`http://127.0.0.1:${binding?.hostPort}/`);
    expect(await res.text()).toContain('hello from bosun');
    // The health check runs inside the container and turns HEALTHY.
    const healthy = await waitForTask(webArn, (t) => t.containers[0]?.healthStatus === 'HEALTHY', 40_000);
    expect(healthy.containers[0]?.healthStatus).toBe('HEALTHY');
  }, 90_000);

  it('runs the two-container example in dependsOn order and handles SIGTERM on stop', async () => {
    const arn = await runTask('app-with-migrations');
    const task = await waitForTask(arn, (t) => t.lastStatus === 'RUNNING');
    const migrate = task.containers.find((c) => c.name === 'migrate');
    const app = task.containers.find((c) => c.name === 'app');
    expect(migrate).toMatchObject({ lastStatus: 'STOPPED', exitCode: 0 });
    expect(app?.lastStatus).toBe('RUNNING');
    // app started only after migrate wrote its file: its first log line shows the time migrate wrote.
    const appLogs = await docker('logs', app?.runtimeId ?? '');
    expect(appLogs).toMatch(/started after migration at \S+/);

    await aws('stop-task', '--task', arn, '--reason', 'e2e says stop');
    const stopped = await waitForTask(arn, (t) => t.lastStatus === 'STOPPED', 30_000);
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
    await aws(
      'register-task-definition',
      '--family',
      'huge',
      '--container-definitions',
      JSON.stringify([
        { name: 'a', image: 'bosun/busybox:latest', memory: 10_000_000, command: ['sleep', '1'] },
      ]),
    );
    const out = (await aws('run-task', '--task-definition', 'huge')) as {
      tasks: unknown[];
      failures: { reason: string; detail?: string }[];
    };
    expect(out.tasks).toEqual([]);
    expect(out.failures[0]?.reason).toBe('RESOURCE:MEMORY');
    expect(out.failures[0]?.detail ?? '').toMatch(/memory/i);
  });

  it('ends a task whose image does not exist as STOPPED with TaskFailedToStart and the Docker error', async () => {
    await aws(
      'register-task-definition',
      '--family',
      'no-image',
      '--container-definitions',
      JSON.stringify([{ name: 'a', image: 'bosun/does-not-exist:1', memory: 16 }]),
    );
    const arn = await runTask('no-image');
    const task = await waitForTask(arn, (t) => t.lastStatus === 'STOPPED', 90_000);
    expect(task.stopCode).toBe('TaskFailedToStart');
    expect(task.containers[0]?.reason ?? '').toMatch(/^CannotPullContainerError/);
  }, 120_000);

  it('adopts its containers after kill -9: same container, not restarted, no duplicate', async () => {
    const before = await describeTask(webArn);
    const id = before.containers[0]?.runtimeId ?? '';
    const startedAt = await docker('inspect', '-f', '{{.State.StartedAt}}', id);
    await agent.stop('SIGKILL');
    agent = await startAgent();
    // Give the restarted agent a few reconcile rounds to act, if it were going to.
    await sleep(4000);
    expect(await docker('inspect', '-f', '{{.State.StartedAt}} {{.State.Running}}', id)).toBe(
      `${startedAt} true`,
    );
    const all = await docker('ps', '-aq', '--filter', `label=bosun.task-id=${webArn.split('/').pop()}`);
    expect(all.split('\n').filter(Boolean)).toHaveLength(1);
    const after = await describeTask(webArn);
    expect(after.lastStatus).toBe('RUNNING');
    expect(after.containers[0]?.runtimeId).toBe(id);
    // And it still acts on the task: stop it through the API.
    await aws('stop-task', '--task', webArn);
    await waitForTask(webArn, (t) => t.lastStatus === 'STOPPED', 30_000);
  }, 90_000);
});
