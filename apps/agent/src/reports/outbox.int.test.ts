import {
  CreateClusterCommand,
  DescribeTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
} from '@aws-sdk/client-ecs';
import type { TaskStateReport } from '@bosun/model';
import { REPORT_LIMITS } from '@bosun/model';
import { rawEcsCall } from '@bosun/testkit';
import { startControlPlane, type TestControlPlane } from '@bosun/testkit/control-plane-in-process';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlaneClient } from '../control-plane-client.ts';
import { newKeyPair } from '../identity.ts';
import { ReportOutbox } from './outbox.ts';

/**
 * The outbox against a real control plane (in this process, over Postgres and Redis): reports go in
 * chunks, a chunk too large for the control plane's body limit is split until it fits, a report the
 * control plane refuses is sent once in its minimal form and then dropped, and every other report is
 * applied — read back with DescribeTasks.
 */
let cp: TestControlPlane;
let client: CountingClient;

/** The agent's client, noting each report request's size and how it ended. */
class CountingClient extends ControlPlaneClient {
  requests: { reports: number; outcome: string }[] = [];
  override async report(body: { tasks: TaskStateReport[] }): Promise<unknown> {
    try {
      const answer = (await super.report(body)) as { refused?: unknown[] };
      this.requests.push({ reports: body.tasks.length, outcome: `refused ${answer.refused?.length ?? 0}` });
      return answer;
    } catch (e) {
      this.requests.push({ reports: body.tasks.length, outcome: (e as Error).message.split(':')[0] ?? '' });
      throw e;
    }
  }
}
let taskIds: string[] = [];
const CLUSTER = 'outbox';

beforeAll(async () => {
  // Small enough that four bounded reports with full-length reasons do not fit, two do.
  cp = await startControlPlane({ bodyLimitBytes: 6 * 1024 });
  await cp.ecs.send(new CreateClusterCommand({ clusterName: CLUSTER }));
  const token = await rawEcsCall(cp.endpoint, {
    target: 'BosunV1.CreateJoinToken',
    body: JSON.stringify({ cluster: CLUSTER }),
    key: cp.key,
  });
  // As main.ts joins: the install's CA, a key pair, then its client certificate.
  client = new CountingClient(cp.endpoint);
  client.setTls({ ca: cp.tls.serverCaPem });
  const keys = newKeyPair();
  const reg = await client.register({
    publicKey: keys.publicKey,
    joinToken: token.body.joinToken as string,
    hostname: 'outbox-host',
    cpu: 4096,
    memory: 8192,
    reservedPorts: [],
    attributes: [],
    versionInfo: { agentVersion: 'test', dockerVersion: 'none' },
  });
  client.setCredential(reg.credential);
  client.setTls({ ca: cp.tls.serverCaPem, key: keys.privateKey, cert: reg.certificate ?? '' });
  await cp.ecs.send(
    new RegisterTaskDefinitionCommand({
      family: 'reported',
      containerDefinitions: [{ name: 'main', image: 'bosun/busybox:latest', memory: 16 }],
    }),
  );
  await cp.ecs.send(new RunTaskCommand({ cluster: CLUSTER, taskDefinition: 'reported', count: 7 }));
  for (let i = 0; i < 100 && taskIds.length < 7; i++) {
    taskIds = (await client.desired(0, 1)).tasks.map((t) => t.taskId);
  }
  expect(taskIds).toHaveLength(7);
}, 60_000);

afterAll(async () => {
  await cp?.close();
});

const stoppedReport = (taskId: string): TaskStateReport => ({
  taskId,
  lastStatus: 'STOPPED',
  stopCode: 'TaskFailedToStart',
  // Over the limits: bounded by the outbox before they leave.
  stoppedReason: `CannotStartContainerError: ${'y'.repeat(3000)}`,
  containers: [
    { name: 'main', lastStatus: 'STOPPED', reason: `CannotStartContainerError: ${'x'.repeat(3000)}` },
  ],
  startedAt: 1_700_000_000_000,
});

describe('ReportOutbox against a real control plane', () => {
  it('splits an oversized chunk, drops a report refused twice, and applies all the others', async () => {
    const outbox = new ReportOutbox(client, pino({ level: 'silent' }), () => {}, 4);
    const [bogus, ...good] = taskIds as [string, ...string[]];
    // A status the protocol does not know: nothing the agent can cut fixes it.
    const bad = { ...stoppedReport(bogus), lastStatus: 'EXPLODED' } as unknown as TaskStateReport;
    outbox.queue(stoppedReport(good[0] ?? ''));
    outbox.queue(bad);
    for (const id of good.slice(1)) outbox.queue(stoppedReport(id));

    const deadline = Date.now() + 20_000;
    while (outbox.pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect({ pending: outbox.pending, dropped: outbox.dropped, failures: outbox.failures }).toEqual({
      pending: 0,
      dropped: 1,
      failures: 0,
    });

    // The first report leaves at once, alone (no wait while all is well); the six queued meanwhile go
    // in chunks of four and two; the four are too large for the body limit and split in halves; the
    // bogus report (first of that chunk) is refused, sent once minimal, refused again.
    expect(client.requests).toEqual([
      { reports: 1, outcome: 'refused 0' },
      { reports: 4, outcome: 'ClientException' },
      { reports: 2, outcome: 'refused 1' },
      { reports: 2, outcome: 'refused 0' },
      { reports: 2, outcome: 'refused 0' },
      { reports: 1, outcome: 'refused 1' },
    ]);

    const out = await cp.ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: taskIds }));
    const byId = new Map(out.tasks?.map((t) => [t.taskArn?.split('/').pop() ?? '', t]));
    for (const id of good) {
      const task = byId.get(id);
      expect(task?.lastStatus).toBe('STOPPED');
      expect(task?.stoppedReason).toHaveLength(REPORT_LIMITS.reason);
      const reason = task?.containers?.[0]?.reason ?? '';
      expect(reason).toHaveLength(REPORT_LIMITS.reason);
      expect(reason.startsWith('CannotStartContainerError: xxx')).toBe(true);
      expect(reason.endsWith('…')).toBe(true);
    }
    // The refused one was never applied: its task is where RunTask left it.
    expect(byId.get(bogus)?.lastStatus).not.toBe('STOPPED');

    // The same state again is not resent (it was taken, or dropped); a new state of the bogus task is.
    outbox.queue(stoppedReport(good[0] ?? ''));
    outbox.queue(bad);
    expect(outbox.pending).toBe(0);
    outbox.queue({ ...stoppedReport(bogus), stoppedReason: 'a later, valid report' });
    while (outbox.pending > 0 && Date.now() < deadline + 10_000) await new Promise((r) => setTimeout(r, 50));
    const later = await cp.ecs.send(new DescribeTasksCommand({ cluster: CLUSTER, tasks: [bogus] }));
    expect(later.tasks?.[0]?.lastStatus).toBe('STOPPED');
    expect(later.tasks?.[0]?.stoppedReason).toBe('a later, valid report');
    outbox.stop();
  }, 60_000);
});
