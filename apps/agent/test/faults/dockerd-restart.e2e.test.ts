import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type Stack, startStack, startTestHosts, type TestHosts } from '@bosun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureTasks, recordFigures, seconds } from './figures.ts';

/**
 * Fault scenario 10: the Docker daemon of a host restarts under the agent. Docker stops the
 * containers on its way down; the agent must reconnect by itself, report the truth (the tasks
 * stopped, with Docker's exit codes), and run new tasks on the restarted daemon.
 */
const run = promisify(execFile);
let hosts: TestHosts;
let stack: Stack;

const onHost = async (...args: string[]) =>
  (await run('docker', args, { env: { ...process.env, DOCKER_HOST: hosts.dockerHost(1) } })).stdout.trim();

beforeAll(async () => {
  hosts = await startTestHosts(1);
  stack = await startStack({ agentEnv: { DOCKER_HOST: hosts.dockerHost(1) } });
  await stack.registerBusybox('steady');
}, 180_000);

afterAll(async () => {
  await stack?.close();
  await hosts?.down();
}, 180_000);

describe('fault suite: dockerd restarts', () => {
  it('10. dockerd restarts on a host: the agent reconnects and reports truthfully', async () => {
    const arn = await stack.runTask('steady');
    const running = await stack.waitForTask(arn, (t) => t.lastStatus === 'RUNNING');
    const id = running.containers[0]?.runtimeId ?? '';

    const started = Date.now();
    await hosts.stopHost(1);
    await hosts.startHost(1);
    // scripts/hosts stop-host also stops a host's agent when it started one; ours is the stack's.
    expect(stack.agent.child.exitCode).toBeNull();
    const stopped = await stack.waitForTask(arn, (t) => t.lastStatus === 'STOPPED', 60_000);
    const detected = Date.now() - started;
    const dockerSays = await onHost('inspect', '-f', '{{.State.Running}} {{.State.ExitCode}}', id);
    expect(dockerSays.startsWith('false')).toBe(true);
    expect(stopped.stopCode).toBe('EssentialContainerExited');
    expect(String(stopped.containers[0]?.exitCode)).toBe(dockerSays.split(' ')[1]);

    // And the agent works with the restarted daemon.
    const again = await stack.runTask('steady');
    await stack.waitForTask(again, (t) => t.lastStatus === 'RUNNING', 60_000);
    recordFigures({
      scenario: '10. dockerd restart',
      detectionSeconds: seconds(detected),
      recoverySeconds: seconds(Date.now() - started),
      ...(await measureTasks(stack.aws, ['--family', 'steady'], [hosts.dockerHost(1)])),
      note: 'recovery = a new task RUNNING on the restarted daemon',
    });
    await stack.aws('stop-task', '--task', again);
  }, 150_000);
});
