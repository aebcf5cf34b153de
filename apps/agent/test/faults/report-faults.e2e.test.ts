import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPORT_LIMITS } from '@bosun/model';
import { docker, freePort, type Stack, startStack, type Task } from '@bosun/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureTasks, recordFigures, seconds } from './figures.ts';

/**
 * Fault scenario: one task's report is over the protocol's limits. A one-string `command` of a
 * nonexistent path over 2000 characters makes Docker's start error longer than the 1024 characters a
 * reason may have (Docker names the path twice). Before the agent bounded its reports, that report
 * was refused and the host's whole batch with it, resent for ever: the host's other tasks never
 * reached RUNNING, nor STOPPED after a StopTask. Now the agent cuts the reason to the limit, so the
 * bad task ends STOPPED with the start of Docker's message, and every other report flows beside it.
 * Figures come from the control plane's record (DescribeTasks reads Postgres) and Docker's.
 */
let stack: Stack;
let healthPort = 0;
/** `/nonexistent/xxx…/xxx…`: 2420 characters, one path Docker cannot exec. */
const LONG_PATH = `/nonexistent/${Array.from({ length: 24 }, () => 'x'.repeat(100)).join('/')}`;

beforeAll(async () => {
  healthPort = await freePort();
  stack = await startStack({ agentEnv: { BOSUN_AGENT_HEALTH_PORT: String(healthPort) } });
  await stack.registerBusybox('report-steady');
  await stack.registerBusybox('report-long-error', [LONG_PATH]);
}, 120_000);

afterAll(async () => {
  await stack?.close();
}, 120_000);

const taskId = (arn: string) => arn.slice(arn.lastIndexOf('/') + 1);

/** Docker's own record of a task's container: its start error and whether it runs. */
async function dockerRecord(arn: string): Promise<{ error: string; running: boolean }> {
  const id = await docker('ps', '-aq', '--filter', `label=bosun.task-id=${taskId(arn)}`);
  expect(id.split('\n').filter(Boolean)).toHaveLength(1);
  const [running, ...error] = (
    await docker('inspect', '-f', '{{.State.Running}} {{.State.Error}}', id)
  ).split(' ');
  return { running: running === 'true', error: error.join(' ') };
}

/** The bad task as the control plane holds it: STOPPED, failed to start, Docker's error cut to the limit. */
function expectCutDockerError(task: Task, dockerError: string) {
  expect(task).toMatchObject({ lastStatus: 'STOPPED', stopCode: 'TaskFailedToStart' });
  const reason = task.containers[0]?.reason ?? '';
  expect(reason.length).toBeLessThanOrEqual(REPORT_LIMITS.reason);
  expect((task.stoppedReason ?? '').length).toBeLessThanOrEqual(REPORT_LIMITS.reason);
  // The start of Docker's message, then the marker: what went wrong is still there to read.
  expect(reason.endsWith('…')).toBe(true);
  expect(`CannotStartContainerError: ${dockerError}`.startsWith(reason.slice(0, -1))).toBe(true);
  expect(reason).toContain('/nonexistent/xxx');
}

describe('fault suite: bad reports', () => {
  it('an over-long Docker error on one task leaves the host’s other reports flowing', async () => {
    const started = Date.now();
    // Side by side: the good task's reports share the agent's batches with the bad one's.
    const good = await stack.runTask('report-steady');
    const bad = await stack.runTask('report-long-error');

    const badStopped = await stack.waitForTask(bad, (t) => t.lastStatus === 'STOPPED', 60_000);
    const badDocker = await dockerRecord(bad);
    expect(badDocker.running).toBe(false);
    // Docker's error really is over the limit: this is the case the test is about.
    expect(badDocker.error.length).toBeGreaterThan(REPORT_LIMITS.reason);
    expectCutDockerError(badStopped, badDocker.error);

    const running = await stack.waitForTask(good, (t) => t.lastStatus === 'RUNNING', 60_000);
    const goodContainer = running.containers[0]?.runtimeId ?? '';
    expect((await dockerRecord(good)).running).toBe(true);
    const { lost, duplicates } = await measureTasks(stack.aws, ['--family', 'report-steady']);
    expect(lost).toBe(0);
    expect(duplicates).toBe(0);

    // Another bad task failing while the good one is stopped: the stop still completes.
    const bad2 = await stack.runTask('report-long-error');
    const stopAsked = Date.now();
    await stack.aws('stop-task', '--task', good, '--reason', 'beside a bad report');
    const stopped = await stack.waitForTask(good, (t) => t.lastStatus === 'STOPPED', 60_000);
    const stopSeconds = seconds(Date.now() - stopAsked);
    expect(stopped).toMatchObject({ stopCode: 'UserInitiated', stoppedReason: 'beside a bad report' });
    expect(stopped.containers[0]?.runtimeId).toBe(goodContainer);
    expect((await dockerRecord(good)).running).toBe(false);
    const bad2Stopped = await stack.waitForTask(bad2, (t) => t.lastStatus === 'STOPPED', 60_000);
    expectCutDockerError(bad2Stopped, (await dockerRecord(bad2)).error);

    // The agent's own account: nothing left waiting, nothing dropped (cut reports are not refused).
    const health = JSON.parse(await readFile(join(stack.agents[0]?.dir ?? '', 'health.json'), 'utf8'));
    expect(health).toMatchObject({ status: 'ok', reports: { pending: 0, dropped: 0 } });
    expect(health.controlPlane.secondsSinceContact).toBeLessThan(10);
    const res = await fetch(`http://127.0.0.1:${healthPort}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', docker: { reachable: true } });

    recordFigures({
      scenario: 'over-long Docker error beside a healthy task',
      recoverySeconds: seconds(Date.now() - started),
      lost,
      duplicates,
      note: `StopTask beside the bad report took ${stopSeconds} s; Docker's error ${badDocker.error.length} chars, reported ${badStopped.containers[0]?.reason?.length}`,
    });
  }, 180_000);
});
